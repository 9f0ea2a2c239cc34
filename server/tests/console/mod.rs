//! Starts the real console (`server::router`: pages, server functions, PostgreSQL sessions, the
//! request gate) on a fresh test database and talks HTTP to it like a browser or an attacker would.

#![allow(dead_code)]

use std::net::SocketAddr;

use app::auth::store;
use leptos::config::LeptosOptions;
use partitioning::access::{Role, Username};
use partitioning::pg::testdb::TestDb;
use reqwest::header::{HeaderMap, HeaderValue, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::{RequestBuilder, StatusCode};
use server::SecuritySettings;

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Console {
    pub base: String,
    pub db: TestDb,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

/// A signed-in browser: its session cookie and the CSRF token the page carried.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// `name=value` of the session cookie set by this response, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.set_cookie_line()
            .and_then(|l| l.split(';').next().map(str::to_string))
    }

    /// The whole `Set-Cookie` line of the session cookie.
    pub fn set_cookie_line(&self) -> Option<String> {
        let prefix = format!("{}=", app::auth::SESSION_COOKIE);
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&prefix))
            .map(str::to_string)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Console {
    pub async fn start() -> Console {
        Self::start_with(SecuritySettings::default()).await
    }

    pub async fn start_with(settings: SecuritySettings) -> Console {
        let db = TestDb::migrated().await.expect("a migrated test database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let options = LeptosOptions::builder()
            .output_name("rustcare-partitions")
            .site_root("target/site")
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let router = server::router(db.pool.clone(), options, settings)
            .await
            .expect("the router builds");
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Console {
            base: format!("http://{addr}"),
            db,
            http,
            server,
        }
    }

    pub async fn add_user(&self, name: &str, role: Role) {
        let name = Username::parse(name).unwrap();
        store::create(&self.db.pool, &name, "", role, PASSWORD)
            .await
            .unwrap();
    }

    /// A POST from this console's own page (same Origin).
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, HeaderValue::from_str(&self.base).unwrap())
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    pub async fn send(req: RequestBuilder) -> Reply {
        let res = req.send().await.expect("the console answers");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn login(&self, name: &str, password: &str) -> Reply {
        Self::send(self.post("/api/public/login").form(&[
            ("username", name),
            ("password", password),
            ("next", "/"),
        ]))
        .await
    }

    /// Logs in and reads the CSRF token from a page, as the browser does.
    pub async fn sign_in(&self, name: &str) -> Browser {
        let reply = self.login(name, PASSWORD).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "login of {name}: {}",
            reply.body
        );
        let cookie = reply
            .session_cookie()
            .expect("login sets the session cookie");
        let page = Self::send(self.get("/").header(COOKIE, &cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "home page: {}", page.body);
        let csrf = meta_csrf(&page.body).expect("the page carries a CSRF token");
        Browser { cookie, csrf }
    }

    /// Calls a server function as `who` (cookie + token), from this console's origin.
    pub async fn call(&self, path: &str, form: &[(&str, &str)], who: Option<&Browser>) -> Reply {
        let mut req = self.post(path).form(form);
        if let Some(b) = who {
            req = req
                .header(COOKIE, &b.cookie)
                .header(app::auth::CSRF_HEADER, &b.csrf);
        }
        Self::send(req).await
    }

    /// Every console account as text: equal before and after means nothing changed.
    pub async fn accounts_state(&self) -> String {
        sqlx::query_scalar(
            "SELECT coalesce(string_agg(u::text, E'\\n' ORDER BY id), '') FROM console_users u",
        )
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

/// The `content` of `<meta name="csrf-token" content="…">`.
pub fn meta_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf-token\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let content = tag.split("content=\"").nth(1)?;
    let token = &content[..content.find('"')?];
    (!token.is_empty()).then(|| token.to_string())
}
