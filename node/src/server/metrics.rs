//! Prometheus text-format metrics for the admin listener (docs/operations.md, "Listeners,
//! monitoring and logs"). A small hand-written registry: a few counters keyed by labels, rendered
//! in the text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use debrief_protocol::EnvelopeId;
use std::sync::Arc;

/// Counters the server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (route template, method, status) → requests answered.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// circle → bundles accepted (incremented by the bundle routes and sync).
    bundles_accepted: Mutex<BTreeMap<EnvelopeId, u64>>,
    /// circle → bundles quarantined.
    bundles_quarantined: Mutex<BTreeMap<EnvelopeId, u64>>,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    *map.entry(key).or_insert(0) += 1;
}

fn snapshot<K: Ord + Clone>(map: &Mutex<BTreeMap<K, u64>>) -> BTreeMap<K, u64> {
    map.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A label value escaped as the text format requires (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one answered request.
    pub fn record_request(&self, route: &str, method: &str, status: u16) {
        bump(
            &self.requests,
            (route.to_owned(), method.to_owned(), status),
        );
    }

    /// Counts a bundle accepted into `circle`.
    pub fn bundle_accepted(&self, circle: EnvelopeId) {
        bump(&self.bundles_accepted, circle);
    }

    /// Counts a bundle quarantined in `circle`.
    pub fn bundle_quarantined(&self, circle: EnvelopeId) {
        bump(&self.bundles_quarantined, circle);
    }

    /// Renders every metric; `roster_heads` are (circle, name, head seq) of the circles served,
    /// `replay_entries` the replay memory's size.
    pub fn render(
        &self,
        roster_heads: &[(EnvelopeId, String, u64, bool)],
        replay_entries: usize,
    ) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP debrief_http_requests_total Requests answered, by route, method and status.\n",
        );
        out.push_str("# TYPE debrief_http_requests_total counter\n");
        for ((route, method, status), n) in snapshot(&self.requests) {
            let _ = writeln!(
                out,
                "debrief_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(&route),
                escape(&method)
            );
        }
        out.push_str("# HELP debrief_roster_head_seq The roster head seq of each circle served.\n");
        out.push_str("# TYPE debrief_roster_head_seq gauge\n");
        for (circle, name, seq, _) in roster_heads {
            let _ = writeln!(
                out,
                "debrief_roster_head_seq{{circle=\"{circle}\",name=\"{}\"}} {seq}",
                escape(name)
            );
        }
        out.push_str(
            "# HELP debrief_circle_frozen 1 while a circle holds an unresolved fork proof.\n",
        );
        out.push_str("# TYPE debrief_circle_frozen gauge\n");
        for (circle, name, _, frozen) in roster_heads {
            let _ = writeln!(
                out,
                "debrief_circle_frozen{{circle=\"{circle}\",name=\"{}\"}} {}",
                escape(name),
                u8::from(*frozen)
            );
        }
        for (metric, help, map) in [
            (
                "debrief_bundles_accepted_total",
                "Bundles verified and stored, by circle.",
                &self.bundles_accepted,
            ),
            (
                "debrief_bundles_quarantined_total",
                "Bundles that failed verification and were quarantined, by circle.",
                &self.bundles_quarantined,
            ),
        ] {
            let _ = writeln!(out, "# HELP {metric} {help}");
            let _ = writeln!(out, "# TYPE {metric} counter");
            for (circle, n) in snapshot(map) {
                let _ = writeln!(out, "{metric}{{circle=\"{circle}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP debrief_replay_memory_entries Signed requests remembered against replay.\n",
        );
        out.push_str("# TYPE debrief_replay_memory_entries gauge\n");
        let _ = writeln!(out, "debrief_replay_memory_entries {replay_entries}");
        out
    }
}

/// Middleware counting every answer by its route template (never the raw path, so circle ids
/// and object ids do not multiply the series).
pub async fn track_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.record_request(&route, &method, status);
    tracing::info!(route = %route, method = %method, status, "request");
    response
}
