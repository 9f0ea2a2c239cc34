//! The request gate in front of every page and server function:
//! - a mutating `/api/*` request whose `Origin` (or, absent, `Referer`) is not the console's own
//!   is refused (403) before anything runs: Leptos server functions have no CSRF defence of their own;
//! - the session's account becomes a `CurrentUser` request extension (server functions read it);
//! - `/api/*` outside `/api/public/` needs a session (401) and, when mutating, the session's CSRF
//!   token in `x-csrf-token` (403);
//! - pages other than `/login` need a session: the browser is sent to `/login?next=…`.
//!
//! Server functions still check the role themselves (`app::auth::server::require`).

use std::sync::Arc;

use app::auth::password::constant_time_eq;
use app::auth::server::{resolve, CurrentUser, NOT_SIGNED_IN};
use app::auth::{percent_encode, safe_next, CSRF_HEADER, PUBLIC_API_PREFIX};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::ServerFnError;
use sqlx::PgPool;
use tower_sessions::Session;

use crate::auth::SecuritySettings;

/// Pages anyone may open (exact paths). `/wall` is the wall display: its data comes from
/// `/api/public/wall_data`, which checks the revocable link token instead of a session.
const PUBLIC_PAGES: &[&str] = &["/login", "/wall"];

#[derive(Clone)]
pub struct Gate {
    pool: PgPool,
    settings: Arc<SecuritySettings>,
}

impl Gate {
    pub fn new(pool: PgPool, settings: SecuritySettings) -> Self {
        Self {
            pool,
            settings: Arc::new(settings),
        }
    }
}

pub async fn gate(
    State(gate): State<Gate>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let api = path.starts_with("/api/");
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if api && mutating {
        if let Err(why) = check_origin(req.headers(), &gate.settings) {
            tracing::warn!(%path, "refused: {why}");
            return api_refusal(StatusCode::FORBIDDEN, &why);
        }
    }
    if !api && is_asset(&path) {
        return next.run(req).await;
    }

    let user = match resolve(&gate.pool, &session, gate.settings.touch_interval()).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "reading the session failed");
            let msg = "The console could not read your session: the database may be unreachable. Try again shortly.";
            return if api {
                api_refusal(StatusCode::SERVICE_UNAVAILABLE, msg)
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, msg).into_response()
            };
        }
    };
    if let Some(user) = &user {
        req.extensions_mut().insert(user.clone());
    }

    if api {
        if path.starts_with(PUBLIC_API_PREFIX) {
            return next.run(req).await;
        }
        let Some(user) = user else {
            return api_refusal(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN);
        };
        if mutating && !token_matches(req.headers(), &user) {
            tracing::warn!(%path, user = %user.username, "refused: missing or wrong CSRF token");
            return api_refusal(
                StatusCode::FORBIDDEN,
                "Refused: this request does not carry your session's CSRF token (x-csrf-token). \
                 Reload the page and try again; nothing was changed.",
            );
        }
        return next.run(req).await;
    }

    let query = req.uri().query().map(str::to_string);
    if path == "/login" {
        if user.is_some() {
            // Already signed in: go where the login would have led.
            let next_param = query.as_deref().and_then(|q| query_param(q, "next"));
            return see_other(&safe_next(next_param.as_deref()));
        }
        return next.run(req).await;
    }
    if user.is_none() && !PUBLIC_PAGES.contains(&path.as_str()) {
        let wanted = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        return see_other(&format!("/login?next={}", percent_encode(&wanted)));
    }
    next.run(req).await
}

/// Files of the built site (`/pkg/…`, `/favicon.svg`): served without a session.
fn is_asset(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// The request's Origin (or the origin of its Referer) must be the console's own.
fn check_origin(headers: &HeaderMap, settings: &SecuritySettings) -> Result<(), String> {
    // A browser sends each of these once; two (our own origin first, a foreign one second) would
    // let a lenient reader check one and a proxy or framework believe the other.
    for name in [header::ORIGIN, header::REFERER, header::HOST] {
        if headers.get_all(&name).iter().count() > 1 {
            return Err(format!(
                "Refused: the request carries more than one {name} header, which no browser sends. \
                 Nothing was changed."
            ));
        }
    }
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let (claimed, from) = match (header_text(header::ORIGIN), header_text(header::REFERER)) {
        (Some(o), _) => (o.to_ascii_lowercase(), "Origin"),
        (None, Some(r)) => (origin_of(r).unwrap_or_default(), "Referer"),
        (None, None) => {
            return Err(
                "Refused: the request has neither an Origin nor a Referer header, so it \
                        cannot be told apart from a cross-site forgery. Nothing was changed."
                    .to_string(),
            )
        }
    };
    let allowed = match &settings.public_origin {
        Some(o) => vec![o.clone()],
        None => match header_text(header::HOST) {
            Some(host) => {
                let host = host.to_ascii_lowercase();
                vec![format!("http://{host}"), format!("https://{host}")]
            }
            None => Vec::new(),
        },
    };
    if allowed.contains(&claimed) {
        Ok(())
    } else {
        Err(format!(
            "Refused: the request comes from another site ({from} '{claimed}'), not from this console. \
             Nothing was changed."
        ))
    }
}

/// `https://host:port` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        )
    })
}

fn token_matches(headers: &HeaderMap, user: &CurrentUser) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| constant_time_eq(t, &user.csrf_token))
}

/// A refusal the server-function client understands: the body is a serialised `ServerFnError`
/// whose message says what is needed.
fn api_refusal(status: StatusCode, message: &str) -> Response {
    let body = ServerFnError::new(message).ser();
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn see_other(location: &str) -> Response {
    match header::HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, header::HeaderValue::from_static("/"))],
        )
            .into_response(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn repeated_origin_headers_are_refused() {
        let own = SecuritySettings::default();
        let mut h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(check_origin(&h, &own).is_ok());
        h.append("origin", "http://evil.example".parse().unwrap());
        let why = check_origin(&h, &own).unwrap_err();
        assert!(why.contains("more than one origin header"), "{why}");
        let mut h = headers(&[("origin", "http://127.0.0.1:3000")]);
        h.append("host", "127.0.0.1:3000".parse().unwrap());
        h.append("host", "evil.example".parse().unwrap());
        assert!(check_origin(&h, &own).is_err());
    }

    #[test]
    fn origin_rules() {
        let own = SecuritySettings::default();
        let host = ("host", "127.0.0.1:3000");
        for (given, ok) in [
            (vec![host, ("origin", "http://127.0.0.1:3000")], true),
            (vec![host, ("origin", "https://127.0.0.1:3000")], true),
            (vec![host, ("origin", "http://evil.example")], false),
            (vec![host, ("origin", "null")], false),
            (
                vec![host, ("referer", "http://127.0.0.1:3000/users?x=1")],
                true,
            ),
            (
                vec![host, ("referer", "http://127.0.0.1:3000.evil.example/")],
                false,
            ),
            (
                vec![
                    host,
                    ("origin", "http://evil.example"),
                    ("referer", "http://127.0.0.1:3000/"),
                ],
                false,
            ),
            (vec![host], false),
        ] {
            assert_eq!(
                check_origin(&headers(&given), &own).is_ok(),
                ok,
                "{given:?}"
            );
        }
        let public = SecuritySettings {
            public_origin: Some("https://console.example.org".into()),
            ..Default::default()
        };
        let h = headers(&[
            ("host", "10.0.0.5:3000"),
            ("origin", "https://console.example.org"),
        ]);
        assert!(check_origin(&h, &public).is_ok());
        let h = headers(&[
            ("host", "10.0.0.5:3000"),
            ("origin", "http://10.0.0.5:3000"),
        ]);
        assert!(check_origin(&h, &public).is_err());
    }

    #[test]
    fn assets_and_encoding() {
        assert!(is_asset("/pkg/rustcare-partitions.wasm"));
        assert!(is_asset("/favicon.svg"));
        assert!(!is_asset("/users"));
        assert!(!is_asset("/"));
        assert_eq!(percent_decode("%2Fusers%3Fa%3D1"), "/users?a=1");
        assert_eq!(
            query_param("a=1&next=%2Fusers", "next").as_deref(),
            Some("/users")
        );
        assert_eq!(percent_decode("100%"), "100%");
    }
}
