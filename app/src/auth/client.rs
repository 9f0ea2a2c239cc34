//! The client every console server function uses (`#[server(client = CsrfClient)]`): the browser's
//! `fetch`, plus the session's CSRF token (from the page's `<meta name="csrf-token">`) in the
//! `x-csrf-token` header. The server refuses a signed-in call without it.

use std::future::Future;

use futures::{Sink, Stream};
use leptos::server_fn::client::browser::BrowserClient;
use leptos::server_fn::client::Client;
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::browser::BrowserResponse;
use leptos::server_fn::Bytes;

pub struct CsrfClient;

impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        #[cfg(feature = "hydrate")]
        let public = req.url().contains(super::PUBLIC_API_PREFIX);
        #[cfg(feature = "hydrate")]
        if let Some(token) = page_token() {
            // A Request's headers may still be changed before it is sent (guard "request").
            req.headers().set(super::CSRF_HEADER, &token);
        }
        let sent = <BrowserClient as Client<E, IS, OS>>::send(req);
        async move {
            let res = sent.await;
            // The session ended (idle expiry, logout elsewhere, account disabled): go to the login
            // page, which brings the person back here afterwards.
            #[cfg(feature = "hydrate")]
            if let Ok(r) = &res {
                use leptos::server_fn::response::ClientRes;
                if !public && ClientRes::<E>::status(r) == 401 {
                    to_login();
                }
            }
            res
        }
    }

    #[allow(clippy::type_complexity)]
    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                impl Sink<Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}

#[cfg(feature = "hydrate")]
pub(crate) fn to_login() {
    let location = leptos::prelude::window().location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    super::ui::full_page_load(&format!("/login?next={}", super::percent_encode(&here)));
}

/// The token the server rendered into the page for this session.
#[cfg(feature = "hydrate")]
pub(crate) fn page_token() -> Option<String> {
    let selector = format!("meta[name=\"{}\"]", super::CSRF_META);
    leptos::prelude::document()
        .query_selector(&selector)
        .ok()
        .flatten()
        .and_then(|el| el.get_attribute("content"))
        .filter(|t| !t.is_empty())
}
