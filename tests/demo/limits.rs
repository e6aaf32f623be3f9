//! Slow and idle clients cannot hold the demo server: half-sent request
//! heads are cut at the header timeout, idle connections (HTTP/1.1 and
//! HTTP/2) at the idle timeout, oversized heads are refused, and the
//! connection cap keeps the server below its open-file limit, so `/health`
//! keeps answering. Each with a real slow client on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::server::{DemoServer, http_client, send};

/// Reads until the server closes the connection (or `within` passes);
/// returns what was read and how long it took.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < within {
        match stream.read(&mut buffer) {
            Ok(0) => return (received, Some(started.elapsed())),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (received, Some(started.elapsed())),
        }
    }
    (received, None)
}

async fn health_status(server: &DemoServer) -> StatusCode {
    let request = Request::get(server.url("/health"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(&http_client(false), request).await.0.status
}

#[tokio::test]
async fn a_half_sent_request_head_is_cut_at_the_header_timeout() {
    let server = DemoServer::start(&["--header-timeout", "1s", "--idle-timeout", "30s"]);
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(server.address).expect("connect");
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: demo\r\nX-Slow: ")
                .expect("write");
            stream
        })
        .collect();
    let (_, closed) = read_until_closed(&mut slow[0], Duration::from_secs(10));
    let closed = closed.expect("the server closes a half-sent head");
    println!("a half-sent request head was closed after {closed:?} (header timeout 1 s)");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");
    for stream in &mut slow[1..] {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(3));
        assert!(closed.is_some(), "every slow connection is closed");
    }
    assert_eq!(health_status(&server).await, StatusCode::OK);
}

#[tokio::test]
async fn idle_connections_are_closed_at_the_idle_timeout() {
    let server = DemoServer::start(&["--idle-timeout", "1s", "--header-timeout", "30s"]);

    // HTTP/1.1: one request, then nothing: keep-alive ends after 1 s.
    let mut http1 = TcpStream::connect(server.address).expect("connect");
    http1
        .write_all(b"GET /health HTTP/1.1\r\nHost: demo\r\n\r\n")
        .expect("write");
    let (received, closed) = read_until_closed(&mut http1, Duration::from_secs(10));
    assert!(
        received.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    let closed = closed.expect("an idle HTTP/1.1 connection is closed");
    println!("an idle HTTP/1.1 connection was closed after {closed:?} (idle timeout 1 s)");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");

    // HTTP/2 (prior knowledge): the preface and an empty SETTINGS frame,
    // then nothing: the server says GOAWAY and closes after 1 s.
    let mut http2 = TcpStream::connect(server.address).expect("connect");
    http2
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("write");
    let (received, closed) = read_until_closed(&mut http2, Duration::from_secs(10));
    let closed = closed.expect("an idle HTTP/2 connection is closed");
    println!("an idle HTTP/2 connection was closed after {closed:?} (idle timeout 1 s)");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");
    // A GOAWAY frame (type 7) is among what the server sent.
    assert!(
        received
            .windows(4)
            .any(|w| w[3] == 7 && w[0] == 0 && w[1] == 0),
        "no GOAWAY in {received:?}"
    );
    assert_eq!(health_status(&server).await, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let server = DemoServer::start(&[]);
    let mut big = TcpStream::connect(server.address).expect("connect");
    let filler = "a".repeat(100 * 1024);
    // The server may answer and close before all of it is written.
    let _ = big.write_all(
        format!("GET /health HTTP/1.1\r\nHost: demo\r\nX-Big: {filler}\r\n\r\n").as_bytes(),
    );
    let (received, closed) = read_until_closed(&mut big, Duration::from_secs(10));
    assert!(closed.is_some(), "the connection is closed");
    let answer = String::from_utf8_lossy(&received);
    assert!(
        received.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    println!(
        "a 100 KiB request head got: {}",
        answer
            .lines()
            .next()
            .unwrap_or("(closed without an answer)")
    );
    // Under the limit is fine.
    let mut fine = TcpStream::connect(server.address).expect("connect");
    let filler = "a".repeat(32 * 1024);
    fine.write_all(
        format!(
            "GET /health HTTP/1.1\r\nHost: demo\r\nX-Big: {filler}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("write");
    let (received, _) = read_until_closed(&mut fine, Duration::from_secs(10));
    assert!(
        received.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&received)
    );
}

/// Under an open-file limit of 128, 300 idle connections: the default cap
/// keeps the server below the limit (the rest wait in the kernel's
/// backlog), nothing fails with "too many open files", and as the idle
/// timeout frees slots, `/health` is answered.
#[tokio::test]
async fn the_connection_cap_keeps_the_server_below_its_file_limit() {
    let server = DemoServer::start_with_limit(128, &["--idle-timeout", "1s"]);
    let cap = server
        .stderr
        .wait_for("connection limits", Duration::from_secs(5))
        .expect("the limits are logged");
    assert!(cap.contains("max_connections=64"), "{cap}");

    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.address).expect("connect (backlog)"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let open = server.open_files();
    println!("300 idle clients, open files in the server: {open} (limit 128, cap 64)");
    assert!(open < 128, "{open} open files");

    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(15), health_status(&server))
        .await
        .expect("/health answers once idle connections are closed");
    assert_eq!(status, StatusCode::OK);
    println!(
        "/health answered {:?} after 300 idle clients connected",
        started.elapsed()
    );
    assert!(
        !server.stderr.text().contains("Too many open files"),
        "{}",
        server.stderr.text()
    );
    drop(idle);
}
