//! `GET /portal`: one HTML page, inline CSS and JavaScript, no external
//! resources, that drives the admin API in a browser.
//!
//! The page is assembled once from `page.html`, `page.css` and `page.js`;
//! its `Content-Security-Policy` allows exactly that style and that script
//! (by their SHA-256), requests to the page's own origin, and nothing else:
//! no `unsafe-inline`, no `unsafe-eval`, no other origin, no framing. The
//! admin key lives in a JavaScript variable (never a cookie or storage) and
//! goes out only as `Authorization: Bearer` to `/admin/v1/keys`.

mod hash;

use std::sync::OnceLock;

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page and the policy that goes with it, built once.
struct Page {
    html: String,
    policy: HeaderValue,
}

fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        let policy = format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash::csp_source(SCRIPT),
            hash::csp_source(STYLE),
        );
        Page {
            html: TEMPLATE
                .replacen("/*STYLE*/", STYLE, 1)
                .replacen("/*SCRIPT*/", SCRIPT, 1),
            // Base64 and ASCII quotes only: always a valid header value.
            policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        }
    })
}

/// The portal's route, `GET /portal` (and `HEAD`). It needs no key to load:
/// the page holds no data until an admin key is pasted into it, and every
/// call it makes goes through the admin API's own authentication.
///
/// ```
/// let app: axum::Router = tower_bearer_auth::admin::portal();
/// ```
pub fn portal() -> Router {
    Router::new().route("/portal", get(serve))
}

async fn serve() -> Response {
    let page = page();
    let mut response = page.html.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, page.policy.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_exactly_the_hashed_style_and_script() {
        let page = page();
        let policy = page.policy.to_str().unwrap();
        assert!(page.html.contains(&format!("<style>{STYLE}</style>")));
        assert!(page.html.contains(&format!("<script>{SCRIPT}</script>")));
        assert_eq!(page.html.matches("<script").count(), 1);
        assert_eq!(page.html.matches("<style").count(), 1);
        assert!(policy.contains(&format!("script-src '{}'", hash::csp_source(SCRIPT))));
        assert!(policy.contains(&format!("style-src '{}'", hash::csp_source(STYLE))));
        assert!(policy.starts_with("default-src 'none';"));
        for banned in [
            "unsafe-inline",
            "unsafe-eval",
            "*",
            "http:",
            "https:",
            "data:",
        ] {
            assert!(!policy.contains(banned), "{banned} in {policy}");
        }
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        // The SVG namespace is a name, not a place: nothing is fetched
        // from it (the chart's elements are made with createElementNS).
        let page = &page()
            .html
            .replace("\"http://www.w3.org/2000/svg\"", "SVG_NAMESPACE");
        for outside in [
            "http://", "https://", "src=", "href=", "style=", "@import", "url(",
        ] {
            assert!(!page.contains(outside), "{outside:?} in the portal page");
        }
        // No inline event handler attributes (` onclick=`): the policy
        // would block them, and the script binds its handlers itself.
        let handler = page.split(" on").skip(1).any(|rest| {
            let name = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            name > 0 && rest.as_bytes().get(name) == Some(&b'=')
        });
        assert!(!handler, "an inline event handler in the portal page");
        for storage in [
            "localStorage",
            "sessionStorage",
            "document.cookie",
            "eval(",
            "innerHTML",
        ] {
            assert!(!page.contains(storage), "{storage} in the portal page");
        }
    }
}
