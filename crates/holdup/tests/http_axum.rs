//! The `/debug/pprof/` endpoints mounted in an axum application (feature `axum`).
#![cfg(feature = "axum")]

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn call(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_router_serves_the_endpoints_next_to_the_application() {
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hi" }))
        .merge(holdup::http::router());

    let (status, _, body) = call(&app, get("/hello")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"hi"[..]));

    let (status, headers, body) = call(&app, get("/debug/pprof/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(&body).contains("<a href='mutex?debug=1'>mutex</a>"));

    let (status, headers, body) = call(&app, get("/debug/pprof/mutex")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"mutex\""
    );
    holdup_pprof::decode(&body).unwrap();

    let (status, headers, _) = call(&app, get("/debug/pprof")).await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(headers["location"], "/debug/pprof/");

    let (status, headers, body) = call(&app, get("/debug/pprof/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-go-pprof"], "1");
    assert_eq!(body, b"Unknown profile\n");

    let (status, headers, _) = call(&app, get("/debug/pprof/block?seconds=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"block-delta\""
    );

    let post = Request::post("/debug/pprof/symbol")
        .body(Body::from("0x1"))
        .unwrap();
    let (status, _, body) = call(&app, post).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"num_symbols: 1\n"[..])
    );
}

#[tokio::test]
async fn a_token_protects_the_router() {
    let token = "0123456789abcdef0123";
    let app = holdup::http::Builder::new().token(token).router().unwrap();
    assert!(
        holdup::http::Builder::new()
            .token("short")
            .router()
            .is_err()
    );
    let (status, headers, _) = call(&app, get("/debug/pprof/mutex")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"holdup\"");
    let authorized = Request::get("/debug/pprof/mutex")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, authorized).await.0, StatusCode::OK);
}
