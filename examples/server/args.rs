//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use tower_bearer_auth::key_policy::AddressRange;
use tower_bearer_auth::rate_limit::Quota;

pub(crate) const USAGE: &str = "usage: server [--listen ADDR] [--keys FILE | --redis URL | --postgres URL] [--realm NAME]
              [--namespace NS] [--max-staleness DURATION] [--resync-every DURATION]
              [--header-timeout DURATION] [--idle-timeout DURATION] [--max-connections N]
              [--reload-timeout DURATION] [--rate-limit N/Ss [--rate-limit-shares PARTS]]
              [--trusted-proxy CIDR]...
              [--save-every DURATION] [--github-keys-url URL] [--metrics-public]
              [--jwks-url URL --jwt-issuer ISS --jwt-audience AUD [--jwks-min-refetch DURATION]]
       server --check-keys FILE

  --keys FILE               serve the keys of FILE; SIGHUP reloads it (default: one demo key in memory)
  --redis URL               serve the key set shared in Redis (redis://host:port, redis+unix:///socket);
                            SIGHUP resyncs it; every replica with the same URL and namespace agrees
  --redis-ca FILE           with a rediss:// URL: trust this CA (PEM) instead of the system's roots
  --redis-cert FILE --redis-key FILE
                            with a rediss:// URL: present this client certificate and key (PEM)
  --postgres URL            serve the key set shared in Postgres (postgres://user:pass@host:port/db;
                            a unix socket: postgres://user@%2Frun%2Fpostgresql/db); SIGHUP resyncs it
  --namespace NS            the key set's namespace in Redis or Postgres (default: default)
  --max-staleness 5s        with --redis or --postgres: answer 503 when freshness was not proven for this long
  --resync-every 10m        with --redis or --postgres: load the whole key set again this often (beside the copy in force)
  --check-keys FILE         check FILE as a reload would, print every problem, exit 0 or 1; serve nothing
  --header-timeout 30s      time a client has to send a request head (HTTP/1)
  --idle-timeout 60s        a connection with no traffic for this long is closed
  --max-connections N       connections served at once (default: below the open-file limit)
  --reload-timeout 10s      time a SIGHUP reload may take to read the file
  --rate-limit 100/60s      the rate limit of keys without a rate_limit of their own (default: none);
                            with --redis, limits are shared by every replica
  --rate-limit-shares 10     with --redis: no round trip per request; each replica takes 1/PARTS of a
                            key's quota from Redis at a time and decides locally (a key may get up
                            to one share per replica more than its quota; default: exact, one
                            round trip per request)
  --save-every 30s          with --keys: save credit balances and last uses to the file this often
                            (and at shutdown; a crash gives back at most one period's credits)
  --github-keys-url URL     where GitHub publishes its secret-scanning keys, for leak reports at
                            POST /admin/v1/secret-scanning/github (default: GitHub's public URL)
  --metrics-public          serve GET /metrics (Prometheus text) to anyone (default: a key with
                            the scope metrics:read)
  --trusted-proxy CIDR      believe Forwarded / X-Forwarded-For from peers in CIDR (repeatable), for
                            keys with allowed_ips (default: none, the client is the connection's peer)
  --jwks-url URL            also accept JWT access tokens signed by a key of this JWKS (http://),
                            scopes from their `scope` claim; needs --jwt-issuer and --jwt-audience
  --jwt-issuer ISS          the `iss` JWTs must have
  --jwt-audience AUD        the `aud` JWTs must have (or contain)
  --jwks-min-refetch 10s    the shortest time between two JWKS fetches asked for by unknown `kid`s
  DURATION                  a number with ms, s or m (30s, 500ms, 2m)";

/// What the server was asked to do.
pub(crate) enum Command {
    Serve(Box<Args>),
    CheckKeys(PathBuf),
}

/// How to serve.
pub(crate) struct Args {
    pub(crate) listen: String,
    pub(crate) keys: Option<PathBuf>,
    pub(crate) redis: Option<String>,
    pub(crate) postgres: Option<String>,
    /// `--redis-ca`, and `--redis-cert` with `--redis-key`.
    pub(crate) redis_tls: RedisTlsArgs,
    pub(crate) namespace: String,
    pub(crate) max_staleness: Duration,
    pub(crate) resync_every: Duration,
    pub(crate) realm: String,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: Option<usize>,
    pub(crate) reload_timeout: Duration,
    pub(crate) rate_limit: Option<Quota>,
    /// `--rate-limit-shares`: the share mode, 1/PARTS of a quota at a time.
    pub(crate) rate_limit_shares: Option<u32>,
    pub(crate) trusted_proxies: Vec<AddressRange>,
    pub(crate) save_every: Duration,
    pub(crate) github_keys_url: String,
    pub(crate) metrics_public: bool,
    pub(crate) jwt: Option<JwtArgs>,
}

/// TLS files for a `rediss://` URL.
#[derive(Default)]
pub(crate) struct RedisTlsArgs {
    pub(crate) ca: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
}

impl RedisTlsArgs {
    /// Refuses flags that cannot apply: TLS files without a `rediss://`
    /// URL, a certificate without its key (or the reverse).
    pub(crate) fn check(&self, redis: Option<&str>) -> Result<(), String> {
        let any = self.ca.is_some() || self.cert.is_some() || self.key.is_some();
        if any && !redis.is_some_and(|url| url.starts_with("rediss")) {
            return Err(
                "--redis-ca, --redis-cert and --redis-key go with a rediss:// --redis URL"
                    .to_owned(),
            );
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err("--redis-cert and --redis-key go together".to_owned());
        }
        Ok(())
    }

    /// The TLS settings, `None` without any flag.
    pub(crate) fn read(
        &self,
    ) -> Result<Option<tower_bearer_auth::key_store::redis::RedisTls>, String> {
        if self.ca.is_none() && self.cert.is_none() {
            return Ok(None);
        }
        let client = self.cert.as_deref().zip(self.key.as_deref());
        tower_bearer_auth::key_store::redis::RedisTls::from_files(self.ca.as_deref(), client)
            .map(Some)
    }
}

/// Where JWTs' keys are and what their claims must say.
pub(crate) struct JwtArgs {
    pub(crate) jwks_url: String,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) min_refetch: Duration,
}

/// Parses the arguments (without the program name). `Err("")` asks for the
/// usage alone (`--help`).
pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut parsed = Args {
        listen: "127.0.0.1:3000".to_owned(),
        keys: None,
        redis: None,
        postgres: None,
        redis_tls: RedisTlsArgs::default(),
        namespace: "default".to_owned(),
        max_staleness: Duration::from_secs(5),
        resync_every: Duration::from_secs(600),
        realm: "api".to_owned(),
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        max_connections: None,
        reload_timeout: Duration::from_secs(10),
        rate_limit: None,
        rate_limit_shares: None,
        trusted_proxies: Vec::new(),
        save_every: Duration::from_secs(30),
        github_keys_url: tower_bearer_auth::admin::leaks::GITHUB_KEYS_URL.to_owned(),
        metrics_public: false,
        jwt: None,
    };
    let mut check_keys = None;
    let (mut jwks_url, mut issuer, mut audience, mut min_refetch) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--listen" => parsed.listen = value("--listen")?,
            "--keys" => parsed.keys = Some(PathBuf::from(value("--keys")?)),
            "--check-keys" => check_keys = Some(PathBuf::from(value("--check-keys")?)),
            "--redis" => parsed.redis = Some(value("--redis")?),
            "--postgres" => parsed.postgres = Some(value("--postgres")?),
            "--redis-ca" => parsed.redis_tls.ca = Some(PathBuf::from(value("--redis-ca")?)),
            "--redis-cert" => parsed.redis_tls.cert = Some(PathBuf::from(value("--redis-cert")?)),
            "--redis-key" => parsed.redis_tls.key = Some(PathBuf::from(value("--redis-key")?)),
            "--namespace" => parsed.namespace = value("--namespace")?,
            "--max-staleness" => {
                parsed.max_staleness = duration("--max-staleness", &value("--max-staleness")?)?;
            }
            "--resync-every" => {
                parsed.resync_every = duration("--resync-every", &value("--resync-every")?)?;
            }
            "--realm" => parsed.realm = value("--realm")?,
            "--header-timeout" => {
                parsed.header_timeout = duration("--header-timeout", &value("--header-timeout")?)?;
            }
            "--idle-timeout" => {
                parsed.idle_timeout = duration("--idle-timeout", &value("--idle-timeout")?)?;
            }
            "--reload-timeout" => {
                parsed.reload_timeout = duration("--reload-timeout", &value("--reload-timeout")?)?;
            }
            "--max-connections" => {
                let text = value("--max-connections")?;
                let n: usize = text
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--max-connections {text:?}: a positive number"))?;
                parsed.max_connections = Some(n);
            }
            "--rate-limit" => {
                let text = value("--rate-limit")?;
                parsed.rate_limit = Some(
                    text.parse()
                        .map_err(|e| format!("--rate-limit {text:?}: {e}"))?,
                );
            }
            "--rate-limit-shares" => {
                let text = value("--rate-limit-shares")?;
                let parts: u32 = text.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("--rate-limit-shares {text:?}: a positive number of parts")
                })?;
                parsed.rate_limit_shares = Some(parts);
            }
            "--github-keys-url" => parsed.github_keys_url = value("--github-keys-url")?,
            "--metrics-public" => parsed.metrics_public = true,
            "--save-every" => {
                parsed.save_every = duration("--save-every", &value("--save-every")?)?;
            }
            "--trusted-proxy" => {
                let text = value("--trusted-proxy")?;
                parsed.trusted_proxies.push(
                    text.parse()
                        .map_err(|e| format!("--trusted-proxy {text:?}: {e}"))?,
                );
            }
            "--jwks-url" => jwks_url = Some(value("--jwks-url")?),
            "--jwt-issuer" => issuer = Some(value("--jwt-issuer")?),
            "--jwt-audience" => audience = Some(value("--jwt-audience")?),
            "--jwks-min-refetch" => {
                min_refetch = Some(duration(
                    "--jwks-min-refetch",
                    &value("--jwks-min-refetch")?,
                )?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let sources = [
        parsed.keys.is_some(),
        parsed.redis.is_some(),
        parsed.postgres.is_some(),
    ];
    if sources.iter().filter(|&&given| given).count() > 1 {
        return Err("--keys, --redis and --postgres are sources of keys: choose one".to_owned());
    }
    parsed.redis_tls.check(parsed.redis.as_deref())?;
    if parsed.rate_limit_shares.is_some() && parsed.redis.is_none() {
        return Err("--rate-limit-shares shares limits through Redis: it needs --redis".to_owned());
    }
    parsed.jwt = match (jwks_url, issuer, audience) {
        (Some(jwks_url), Some(issuer), Some(audience)) => Some(JwtArgs {
            jwks_url,
            issuer,
            audience,
            min_refetch: min_refetch.unwrap_or(Duration::from_secs(10)),
        }),
        (None, None, None) if min_refetch.is_none() => None,
        _ => {
            return Err("JWTs need all of --jwks-url, --jwt-issuer and --jwt-audience".to_owned());
        }
    };
    Ok(match check_keys {
        Some(path) => Command::CheckKeys(path),
        None => Command::Serve(Box::new(parsed)),
    })
}

/// `500ms`, `30s`, `2m`; more than zero.
fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    let bad = || format!("{flag} {text:?}: a duration such as 500ms, 30s or 2m");
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let number: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}
