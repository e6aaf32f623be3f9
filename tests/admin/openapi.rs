//! The OpenAPI document against the router, in process: served without a
//! key, valid JSON of OpenAPI 3.1, every documented operation is routed
//! (and answers a status the document lists for it), and no route serves
//! a method the document leaves out. `tools/check-openapi.sh` (CI) goes
//! further with schemathesis.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tower_bearer_auth::admin::OPENAPI;

use crate::client::{KEYS, embedded};

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_as_documented() {
    let (admin, _) = embedded();
    let served = admin
        .raw(
            Method::GET,
            "/admin/v1/openapi.json",
            None,
            bytes::Bytes::new(),
            None,
        )
        .await;
    assert_eq!(served.status, StatusCode::OK, "no key needed");
    let document: Value = served.json();
    assert_eq!(
        document,
        serde_json::from_str::<Value>(OPENAPI).expect("JSON")
    );
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let (_, key) = admin
        .create(json!({"label": "Documented", "owner": "cus_doc"}))
        .await;
    let id = key["id"].as_str().expect("id");
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete = path.replace("{id}", id).replace("{owner}", "cus_doc");
        for method in METHODS {
            let name = method.as_str().to_ascii_lowercase();
            let answer = admin.call(method.clone(), &concrete, None).await;
            match item.get(&name) {
                Some(operation) => {
                    operations += 1;
                    let code = answer.status.as_u16().to_string();
                    assert!(
                        operation["responses"].get(&code).is_some(),
                        "{method} {path}: {code} is not documented: {}",
                        answer.json()
                    );
                }
                None => assert_eq!(
                    answer.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented"
                ),
            }
        }
    }
    assert_eq!(
        operations, 15,
        "every route of the admin API, and the document"
    );
    // The keys list path exists under the documented name.
    assert!(document["paths"].get(KEYS).is_some());
}
