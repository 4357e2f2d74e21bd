//! (module under construction in its issue's branch)
