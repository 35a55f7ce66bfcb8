//! A Redis key prefix of a test's own.

use redis::AsyncCommands;

use crate::names::unique;

/// The Redis the tests use: `APIERR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("APIERR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses; its keys are deleted when this is dropped.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    /// A new prefix (`label` goes into it), after checking that Redis answers: a test
    /// fails here, naming the service and the variable, rather than deep in a store.
    pub async fn new(label: &str) -> TestRedis {
        let url = redis_url();
        let answered = async {
            let client = redis::Client::open(url.as_str())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        }
        .await;
        if let Err(e) = answered {
            panic!(
                "Redis is not answering at {url}: {e}\n\
                 (scripts/test starts it; or set APIERR_TEST_REDIS_URL to one that runs)"
            );
        }
        TestRedis {
            url,
            prefix: format!("{}:", unique(label)),
        }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The prefix, ending in `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let url = self.url.clone();
        let pattern = format!("{}*", self.prefix);
        crate::block_on_own_thread(async move {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return;
            };
            let mut keys: Vec<String> = Vec::new();
            {
                let Ok(mut iter) = conn.scan_match::<_, String>(&pattern).await else {
                    return;
                };
                while let Some(Ok(key)) = iter.next_item().await {
                    keys.push(key);
                }
            }
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = conn.del(chunk).await;
            }
        });
    }
}
