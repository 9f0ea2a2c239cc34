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
        if let Some(token) = page_token() {
            // A Request's headers may still be changed before it is sent (guard "request").
            req.headers().set(super::CSRF_HEADER, &token);
        }
        <BrowserClient as Client<E, IS, OS>>::send(req)
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

/// The token the server rendered into the page for this session.
#[cfg(feature = "hydrate")]
fn page_token() -> Option<String> {
    let selector = format!("meta[name=\"{}\"]", super::CSRF_META);
    leptos::prelude::document()
        .query_selector(&selector)
        .ok()
        .flatten()
        .and_then(|el| el.get_attribute("content"))
        .filter(|t| !t.is_empty())
}
