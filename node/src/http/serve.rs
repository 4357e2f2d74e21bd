//! Serving an axum router over rustls (protocol.md §4.1), with graceful shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use tokio::task::JoinHandle;

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    handle: Handle<SocketAddr>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningServer {
    /// The address the listener is bound to (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ip:port` for this server.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops accepting connections and asks open ones to close once their requests in flight
    /// have finished, allowing up to `grace`; returns at once (see [`RunningServer::wait`]).
    pub fn begin_shutdown(&self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
    }

    /// Waits until the server task has ended.
    pub async fn wait(self) -> io::Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        }
    }

    /// [`RunningServer::begin_shutdown`], then [`RunningServer::wait`].
    pub async fn shutdown(self, grace: Duration) -> io::Result<()> {
        self.begin_shutdown(grace);
        self.wait().await
    }
}

/// The longest wait for a request's line and headers when the caller names none: the default
/// idle timeout (protocol.md §4.8.7.3).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `addr` (e.g. `127.0.0.1:0`) and serves `router` over TLS with `tls` in a background
/// task. Must be called inside a tokio runtime.
pub async fn serve_tls(
    addr: SocketAddr,
    tls: Arc<ServerConfig>,
    router: Router,
) -> io::Result<RunningServer> {
    serve_tls_with(addr, tls, router, DEFAULT_HEADER_READ_TIMEOUT).await
}

/// [`serve_tls`], closing a connection whose request headers take longer than
/// `header_timeout` to arrive (protocol.md §4.8.7.3).
pub async fn serve_tls_with(
    addr: SocketAddr,
    tls: Arc<ServerConfig>,
    router: Router,
    header_timeout: Duration,
) -> io::Result<RunningServer> {
    let listener = TcpListener::bind(addr)?;
    serve_tls_on_with(listener, tls, router, header_timeout).await
}

/// Serves `router` over TLS on an already bound listener.
pub async fn serve_tls_on(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
) -> io::Result<RunningServer> {
    serve_tls_on_with(listener, tls, router, DEFAULT_HEADER_READ_TIMEOUT).await
}

/// [`serve_tls_on`] with the header timeout given.
pub async fn serve_tls_on_with(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    header_timeout: Duration,
) -> io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let handle = Handle::new();
    let mut server = axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))?
        .handle(handle.clone());
    // protocol.md §4.8.7.3: axum-server turns hyper's header timeout off, so without this a
    // client that sends half its headers and stops holds the connection for ever (the request
    // timeout only starts once the headers are in).
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(header_timeout));
    // Connect info gives the invite-token routes the client address for their rate limit.
    let task =
        tokio::spawn(server.serve(router.into_make_service_with_connect_info::<SocketAddr>()));
    Ok(RunningServer { addr, handle, task })
}
