//! A stand-in for GitHub's secret-scanning key endpoint: a local HTTP
//! server publishing test ECDSA P-256 keys in GitHub's format, and
//! signatures made with them (real ones: nothing of the verification is
//! mocked).

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `{"public_keys": [...]}` over plain HTTP, counting the fetches.
pub struct KeyServer {
    pub url: String,
    document: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl KeyServer {
    pub async fn start(keys: &[(&str, &SigningKey)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/meta/public_keys/secret_scanning",
            listener.local_addr().expect("address")
        );
        let document = Arc::new(Mutex::new(published(keys)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (Arc::clone(&document), Arc::clone(&fetches));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().expect("lock").clone();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        Self {
            url,
            document,
            fetches,
        }
    }

    pub fn publish(&self, keys: &[(&str, &SigningKey)]) {
        *self.document.lock().expect("lock") = published(keys);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// GitHub's format: identifier, PEM public key, whether current.
fn published(keys: &[(&str, &SigningKey)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(id, key)| {
            json!({
                "key_identifier": id,
                "key": key.verifying_key().to_public_key_pem(LineEnding::LF).expect("PEM"),
                "is_current": true,
            })
        })
        .collect();
    json!({ "public_keys": keys }).to_string()
}

pub fn signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("random source");
    SigningKey::from_slice(&seed).expect("a valid scalar")
}

/// The `Github-Public-Key-Signature` of `body` by `key`: base64 of the
/// DER ECDSA signature over the raw bytes.
pub fn sign(key: &SigningKey, body: &[u8]) -> String {
    let signature: DerSignature = key.sign(body);
    base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())
}
