//! `GET /metrics`: the Prometheus exposition of `monitor metrics` (the same
//! `partitioning::metrics::render` over the same snapshot and health report).
//!
//! Access: with `RUSTCARE_METRICS_TOKEN` set, a request must carry `Authorization: Bearer <it>`
//! (from anywhere); without it, only clients on the loopback interface are answered (a scraper
//! on the same host, or a proxy that adds its own authentication). Mounted outside the session
//! gate: a scraper has no session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn handler(
    State(pool): State<PgPool>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = allowed(
        &headers,
        peer,
        std::env::var("RUSTCARE_METRICS_TOKEN").ok().as_deref(),
    ) {
        tracing::warn!(%peer, "refused /metrics: {why}");
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            why,
        )
            .into_response();
    }
    let readings = match super::console::read(&pool).await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!(
                    "# metrics unavailable: {}\n",
                    crate::auth::ui::error_text(&e)
                ),
            )
                .into_response()
        }
    };
    let body =
        partitioning::metrics::render(&readings.config, &readings.snapshot, &readings.health);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// The access rule (see the module comment); `Err` says what the scraper must do.
pub fn allowed(headers: &HeaderMap, peer: SocketAddr, token: Option<&str>) -> Result<(), String> {
    match token.map(str::trim).filter(|t| !t.is_empty()) {
        Some(want) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if crate::auth::password::constant_time_eq(given.trim(), want) {
                Ok(())
            } else {
                Err("/metrics needs `Authorization: Bearer <RUSTCARE_METRICS_TOKEN>`.\n".into())
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => Err(
            "/metrics answers only loopback clients unless RUSTCARE_METRICS_TOKEN is set on the server \
             (then send it as a bearer token).\n"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rule() {
        let lo: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let far: SocketAddr = "10.1.2.3:9".parse().unwrap();
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        let none = HeaderMap::new();
        for (headers, peer, token, ok) in [
            (&none, lo, None, true),
            (&none, far, None, false),
            (&bearer, far, Some("s3cret"), true),
            (&none, lo, Some("s3cret"), false),
            (&bearer, lo, Some("other"), false),
        ] {
            assert_eq!(
                allowed(headers, peer, token).is_ok(),
                ok,
                "{peer} {token:?}"
            );
        }
    }
}
