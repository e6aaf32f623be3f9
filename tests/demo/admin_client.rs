//! A client of the demo's admin API over real HTTP, which keeps every
//! answer it got so that a test can check, at the end, which of them
//! carried a token.

#![allow(unreachable_pub)]

use std::sync::Mutex;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::server::{DemoServer, http_client, send};
pub use crate::support::answer::Answer;

/// The admin API of one demo server, called with one bearer token.
pub struct AdminClient<'a> {
    pub server: &'a DemoServer,
    pub bearer: String,
    answers: Mutex<Vec<Answer>>,
}

impl<'a> AdminClient<'a> {
    pub fn new(server: &'a DemoServer, admin_token: &str) -> Self {
        Self {
            server,
            bearer: format!("Bearer {admin_token}"),
            answers: Mutex::new(Vec::new()),
        }
    }

    /// A JSON request (`body` sent as `application/json` when given).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let content_type = bytes.as_ref().map(|_| "application/json");
        self.raw(
            method,
            path,
            content_type,
            bytes.unwrap_or_default(),
            Some(&self.bearer.clone()),
        )
        .await
    }

    /// Any request: content type, body bytes and `Authorization` as given.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
        authorization: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(self.server.url(path));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let request = request.body(Full::new(body)).expect("valid request");
        let (parts, body) = send(&http_client(false), request).await;
        let answer = Answer {
            asked: format!("{method} {path}"),
            status: parts.status,
            headers: parts.headers,
            body,
        };
        self.answers.lock().expect("answers").push(Answer {
            asked: answer.asked.clone(),
            status: answer.status,
            headers: answer.headers.clone(),
            body: answer.body.clone(),
        });
        answer
    }

    /// Every answer so far.
    pub fn answers(&self) -> std::sync::MutexGuard<'_, Vec<Answer>> {
        self.answers.lock().expect("answers")
    }

    /// `GET /v1/profile` with `token`: the status.
    pub async fn profile(&self, token: &str) -> StatusCode {
        let request = Request::get(self.server.url("/v1/profile"))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        send(&http_client(false), request).await.0.status
    }

    /// Creates a key; returns (token, key).
    pub async fn create(&self, body: Value) -> (String, Value) {
        let answer = self.call(Method::POST, "/admin/v1/keys", Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json());
        let json = answer.json();
        (
            json["token"].as_str().expect("token").to_owned(),
            json["key"].clone(),
        )
    }
}

impl AdminClient<'_> {
    /// The id of the key labelled `label`, from the list.
    pub async fn id_of(&self, label: &str) -> String {
        let listed = self.call(Method::GET, "/admin/v1/keys", None).await.json();
        listed["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["label"] == label)
            .and_then(|k| k["id"].as_str())
            .unwrap_or_else(|| panic!("no key labelled {label:?}: {listed}"))
            .to_owned()
    }
}

/// The demo and admin tokens a demo-mode server printed at startup, in that
/// order, each on a line `    Bearer <token>`.
pub fn printed_tokens(server: &DemoServer) -> (String, String) {
    let tokens: Vec<String> = server
        .stdout
        .all()
        .iter()
        .filter_map(|line| line.trim().strip_prefix("Bearer ").map(str::to_owned))
        .collect();
    assert_eq!(tokens.len(), 2, "{}", server.stdout.text());
    (tokens[0].clone(), tokens[1].clone())
}
