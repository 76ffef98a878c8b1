//! The three states of anything fetched: loading, failed, empty; and `loaded` to pick one.

use leptos::prelude::*;

use crate::api::ApiError;

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p class="muted loading" aria-busy="true">{format!("Loading {what}…")}</p> }
}

/// An error in place of the data; the view keeps polling, so it clears itself on recovery.
#[component]
pub fn ErrorNote(error: ApiError) -> impl IntoView {
    let code = match &error {
        ApiError::Api { code, .. } => code.clone(),
        ApiError::Invalid { .. } => "invalid_input".into(),
        ApiError::Unauthorized(_) => "unauthorized".into(),
        ApiError::Network(_) => "network".into(),
        ApiError::Decode(_) => "decode".into(),
    };
    view! { <p class="error note" role="alert" data-code=code>{error.to_string()}</p> }
}

#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <p class="muted empty">{children()}</p> }
}

/// Renders a polled answer: loading until it arrives, the error if it failed, `ok` otherwise.
pub fn loaded<T, V>(
    answer: Option<Result<T, ApiError>>,
    what: &'static str,
    ok: impl FnOnce(T) -> V,
) -> AnyView
where
    V: IntoView + 'static,
{
    match answer {
        None => view! { <Loading what=what /> }.into_any(),
        Some(Err(error)) => view! { <ErrorNote error=error /> }.into_any(),
        Some(Ok(value)) => ok(value).into_any(),
    }
}
