//! The connection's authentication through the client's one request path, against the
//! emulator (which checks `Authorization: Bearer <its key>`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fine_tune_core::infra::client::Client;
use fine_tune_core::infra::connection::{connection, Auth, TokenProvider};
use fine_tune_core::options::ConnectionOptions;
use fine_tune_core::{CancellationToken, ErrorCode};
use fine_tune_emulator::{Emulator, EmulatorOptions};

#[tokio::test]
async fn an_entra_token_provider_is_asked_for_every_request() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let mut conn = connection(ConnectionOptions {
        api_key: Some("unused".into()),
        base_url: Some(emu.url()),
        ..Default::default()
    })
    .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let (key, n) = (emu.api_key(), asked.clone());
    let provider: TokenProvider = Arc::new(move |scope: &str| {
        assert_eq!(scope, "https://cognitiveservices.azure.com/.default");
        n.fetch_add(1, Ordering::SeqCst);
        let key = key.clone();
        Box::pin(async move { Ok(key) })
    });
    conn.auth = Auth::Entra {
        scope: "https://cognitiveservices.azure.com/.default".into(),
        provider,
    };
    let client = Client::new(conn.clone()).unwrap();
    let cancel = CancellationToken::new();
    client.list_files(&cancel).await.unwrap();
    client.list_files(&cancel).await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    // A token the API refuses is the API's answer; a provider that fails ends the call.
    conn.auth = Auth::Entra {
        scope: "s".into(),
        provider: Arc::new(|_: &str| Box::pin(async { Ok("not-the-key".to_string()) })),
    };
    let e = Client::new(conn.clone())
        .unwrap()
        .list_files(&cancel)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Authentication);
    conn.auth = Auth::Entra {
        scope: "s".into(),
        provider: Arc::new(|_: &str| {
            Box::pin(async {
                Err(fine_tune_core::Error::new(
                    ErrorCode::Authentication,
                    "no token",
                ))
            })
        }),
    };
    let e = Client::new(conn)
        .unwrap()
        .list_files(&cancel)
        .await
        .unwrap_err();
    assert_eq!(e.message, "no token");
    emu.close().await;
}
