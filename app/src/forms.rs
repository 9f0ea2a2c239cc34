//! Forms on server-rendered pages: [`PostForm`] sends its fields to a server function and loads the
//! page again, [`Flash`] then shows what the server answered. One island serves every such form,
//! so a form costs the browser bundle nothing of its own: its fields are plain server-rendered
//! HTML (the island's children), and the server function parses and checks them as for any call.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Where [`PostForm`] leaves the server's answer for [`Flash`] across the page load (this tab
/// only, read once), and the path of a link the answer names.
#[cfg(feature = "hydrate")]
const FLASH_KEY: &str = "rustcare-flash";
#[cfg(feature = "hydrate")]
const FLASH_PATH_KEY: &str = "rustcare-flash-path";

/// What a [`PostForm`] does once the server function has answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum After {
    /// Load the page again (what changed shows in the page itself).
    Reload,
    /// Load the page again and show the answer, a sentence, with [`Flash`].
    ReloadAndSay,
    /// Load the page again and show, with [`Flash`], the link the answer holds (`{label, path}`),
    /// once: a wall-display link's token is shown only when it is made.
    ReloadAndShowLink,
    /// Go to the path the answer is (after logging in: the page that was asked for).
    GoToAnswer,
    /// Go to this path (after logging out: the login page).
    GoTo(String),
    /// Go to this path with the `id` of the answer (`{id, …}`) appended.
    GoToId(String),
}

/// A form posted to the server function at `endpoint` (its `ServerFn::PATH`), with the session's
/// CSRF token. On success it does what `then` says; on a refusal the server's sentence is shown
/// under the form, which keeps what was typed. While the call runs, every field and button of
/// the form is disabled.
#[island]
pub fn PostForm(
    #[prop(into)] endpoint: String,
    then: After,
    #[prop(into)] class: String,
    #[prop(into)] testid: String,
    children: Children,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let error_testid = format!("{testid}-error");
    let action = endpoint.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
            else {
                return;
            };
            // Read the fields now: once the fieldset is disabled, the form has none to send.
            let fields = match web_sys::FormData::new_with_form(&form)
                .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data))
            {
                Ok(fields) => fields,
                Err(e) => {
                    error.set(Some(format!(
                        "The form could not be read ({e:?}). Reload the page and try again."
                    )));
                    return;
                }
            };
            let (endpoint, then) = (endpoint.clone(), then.clone());
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                match post(&endpoint, fields).await {
                    Ok(answer) => follow(&then, &answer),
                    Err(text) => {
                        busy.set(false);
                        error.set(Some(text));
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&endpoint, &then);
    };
    view! {
        // method and action: should the form be sent before the WASM has loaded, the browser
        // posts it to the same function (which then refuses it for want of the CSRF token, or
        // for the login form redirects), never puts the fields in a URL.
        <form class=class data-testid=testid method="post" action=action on:submit=on_submit>
            <fieldset class="plain" disabled=move || busy.get()>{children()}</fieldset>
            {move || error.get().map(|text| view! { <p class="error small" role="alert" data-testid=error_testid.clone()>{text}</p> })}
        </form>
    }
}

/// Does what `then` says with the server's `answer` (its JSON body).
#[cfg(feature = "hydrate")]
fn follow(then: &After, answer: &str) {
    #[derive(Deserialize)]
    struct Link {
        label: String,
        path: String,
    }
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    let flash = |text: &str, path: Option<&str>| {
        if let Ok(Some(storage)) = window().session_storage() {
            let _ = storage.set_item(FLASH_KEY, text);
            if let Some(path) = path {
                let _ = storage.set_item(FLASH_PATH_KEY, path);
            }
        }
    };
    let sentence = || leptos::serde_json::from_str::<String>(answer).unwrap_or_default();
    let location = window().location();
    let _ = match then {
        After::Reload => location.reload(),
        After::ReloadAndSay => {
            flash(&sentence(), None);
            location.reload()
        }
        After::ReloadAndShowLink => {
            if let Ok(link) = leptos::serde_json::from_str::<Link>(answer) {
                let text = format!(
                    "Link for “{}” (copy it now, it is not shown again): ",
                    link.label
                );
                flash(&text, Some(&link.path));
            }
            location.reload()
        }
        After::GoToAnswer => location.set_href(&sentence()),
        After::GoTo(path) => location.set_href(path),
        After::GoToId(prefix) => match leptos::serde_json::from_str::<Id>(answer) {
            Ok(Id { id }) => location.set_href(&format!("{prefix}{id}")),
            Err(_) => location.reload(),
        },
    };
}

/// Posts the form's `fields`; the answer (JSON), or the refusal's sentence.
#[cfg(feature = "hydrate")]
async fn post(endpoint: &str, fields: web_sys::UrlSearchParams) -> Result<String, String> {
    let unsent = |e: String| format!("The request could not be sent ({e}). Try again.");
    let mut request = gloo_net::http::Request::post(endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json");
    if let Some(token) = crate::auth::client::page_token() {
        request = request.header(crate::auth::CSRF_HEADER, &token);
    }
    let response = request
        .body(fields)
        .map_err(|e| unsent(e.to_string()))?
        .send()
        .await
        .map_err(|e| unsent(e.to_string()))?;
    let body = response.text().await.unwrap_or_default();
    if response.ok() {
        return Ok(body);
    }
    // The session ended (idle expiry, logout elsewhere): to the login page, and back here after.
    // A public function's 401 (a wrong password) is its answer, not an ended session.
    if response.status() == 401 && !endpoint.contains(crate::auth::PUBLIC_API_PREFIX) {
        crate::auth::client::to_login();
    }
    // A server function error travels as `Kind|message`.
    Err(body
        .split_once('|')
        .map(|(_, message)| message.to_string())
        .unwrap_or(body))
}

/// The answer a [`PostForm`] left before the page loaded again, once; nothing otherwise. A link
/// is shown whole (with this site's address), its path in `data-path`.
#[island]
pub fn Flash() -> impl IntoView {
    let flash = RwSignal::new(None::<(String, Option<String>)>);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Ok(Some(storage)) = window().session_storage() {
            if let Ok(Some(text)) = storage.get_item(FLASH_KEY) {
                let path = storage.get_item(FLASH_PATH_KEY).ok().flatten();
                let _ = storage.remove_item(FLASH_KEY);
                let _ = storage.remove_item(FLASH_PATH_KEY);
                flash.set(Some((text, path)));
            }
        }
    });
    let origin = || {
        #[cfg(feature = "hydrate")]
        {
            window().location().origin().unwrap_or_default()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            String::new()
        }
    };
    view! {
        {move || flash.get().map(|(text, path)| view! {
            <p class="notice" role="status" data-testid="outcome">{text}
                {path.map(|p| view! { <code data-testid="outcome-link" data-path=p.clone()>{format!("{}{p}", origin())}</code> })}
            </p>
        })}
    }
}
