/*!
`sentry update` (the original's `--update`): install a newer sentry at `$ROOT/sentry`, the
path hosts.allow spawns.

Without `update_url` the binary installed is this one. With it, a release manifest is
fetched over HTTPS (TOML: `version`, `url`, `sha256`) together with its detached signature
(`update_url` + `.sig`: the 64 raw bytes of an ed25519 signature over the manifest file's
exact bytes, as `openssl pkeyutl -sign -rawin` writes them). The signature must verify with
`update_public_key` before the manifest is even parsed: HTTPS only says which server
answered, and whoever controls that server must not be able to choose what runs as root on
every host. A manifest older than the installed sentry is refused unless `--force` (a
replayed old manifest is still validly signed). The binary the manifest names is then
downloaded over HTTPS and must match its SHA-256; only then is it written.

Either way the new binary is staged next to the old one, flushed, asked for its
`--version` (a truncated download or a binary for another architecture fails here, before
anything is replaced), then renamed over the old one — tcpd spawning sentry at that moment
runs either the old or the new file, never half of one. The old one is kept as
`sentry.old` (a hard link made before the rename).
*/

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::atomic_file;
use crate::error::{Error, Result};
use crate::exec;

/// A manifest is a few lines; anything bigger is not one.
const MANIFEST_LIMIT: u64 = 64 * 1024;
/// An ed25519 signature is 64 bytes; a little more lets a wrong file be named as such.
const SIGNATURE_LIMIT: u64 = 4 * 1024;
/// Generous for a static binary, small enough that a hostile server cannot fill the disk.
const BINARY_LIMIT: u64 = 256 * 1024 * 1024;
/// The whole fetch, connection to last byte, per request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// What `update` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Installed { from: Option<String>, to: String },
    AlreadyCurrent { installed: String },
}

/// This build's version.
pub fn own_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Installs `source` (this binary) at `target` unless `target` reports the same or a newer
/// version (`--force` installs anyway).
pub fn install(source: &Path, target: &Path, force: bool) -> Result<Outcome> {
    refuse_a_link(target)?;
    let mine = own_version().to_string();
    let Some(installed) = needs_update(target, &mine, force)? else {
        return Ok(already_current(target));
    };
    let bytes = fs::read(source).map_err(|e| Error::io("read", source, &e))?;
    replace_binary(&bytes, &mine, target)?;
    Ok(Outcome::Installed {
        from: installed,
        to: mine,
    })
}

/// What a release manifest says: which version, where, and its SHA-256.
#[derive(Debug, Deserialize)]
struct Manifest {
    version: String,
    url: String,
    sha256: String,
}

/// The ed25519 public key release manifests must be signed with (`update_public_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseKey([u8; 32]);

/// DER of an ed25519 SubjectPublicKeyInfo up to the key itself (RFC 8410): what
/// `openssl pkey -pubout` wraps in PEM, so its base64 line can be pasted as is.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl ReleaseKey {
    /// Base64 of the raw 32-byte key, or the base64 line of `openssl pkey -pubout`'s PEM.
    pub fn parse(text: &str) -> std::result::Result<ReleaseKey, String> {
        use base64::Engine;
        let help = "expected the base64 of a 32-byte ed25519 public key \
                    (`openssl pkey -in release.key -pubout -outform DER | tail -c 32 | base64`)";
        let der = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| format!("{text:?} is not base64; {help}"))?;
        let raw = der.strip_prefix(&ED25519_SPKI_PREFIX[..]).unwrap_or(&der);
        <[u8; 32]>::try_from(raw)
            .map(ReleaseKey)
            .map_err(|_| format!("{text:?} is {} bytes, not a key; {help}", der.len()))
    }
}

/// Where `update` gets a release (`update_url`, `update_ca_file`, `update_public_key`).
pub struct ReleaseSource<'a> {
    pub manifest_url: &'a str,
    /// Replaces the system's CA bundle (a private release server).
    pub ca_file: Option<&'a Path>,
    pub key: &'a ReleaseKey,
}

/// Fetches the manifest and its signature, and when the manifest is signed by the release
/// key and names a newer version than `target` has (an older one only with `force`),
/// downloads that binary, checks its SHA-256 and installs it.
pub fn install_release(source: &ReleaseSource, target: &Path, force: bool) -> Result<Outcome> {
    refuse_a_link(target)?;
    let manifest_url = source.manifest_url;
    let agent = agent(source.ca_file)?;
    let text = fetch(&agent, manifest_url, MANIFEST_LIMIT)?;
    let signature_url = format!("{manifest_url}.sig");
    let signature = fetch(&agent, &signature_url, SIGNATURE_LIMIT).map_err(|e| {
        Error::Runtime(format!(
            "release manifest {manifest_url} is not signed ({e}); nothing was installed. \
             The release manager signs it with the release key and publishes the signature \
             as {signature_url} (README, \"Updating\")"
        ))
    })?;
    verify_signature(&text, &signature, source.key, &signature_url)?;
    let manifest = parse_manifest(&text, manifest_url)?;
    let Some(installed) = offered_replaces(target, &manifest.version, force)? else {
        return Ok(already_current(target));
    };
    let binary = fetch(&agent, &manifest.url, BINARY_LIMIT)?;
    let actual = sha256_hex(&binary);
    if actual != manifest.sha256.to_ascii_lowercase() {
        return Err(Error::Runtime(format!(
            "{}: SHA-256 is {actual}, the manifest {manifest_url} says {}; \
             nothing was installed (a damaged download or a tampered release)",
            manifest.url, manifest.sha256
        )));
    }
    replace_binary(&binary, &manifest.version, target)?;
    Ok(Outcome::Installed {
        from: installed,
        to: manifest.version,
    })
}

/// The signed bytes are the manifest exactly as served: no canonical form to get wrong,
/// and what is parsed is what was signed.
fn verify_signature(
    manifest: &[u8],
    signature: &[u8],
    key: &ReleaseKey,
    signature_url: &str,
) -> Result<()> {
    use ring::signature::{ED25519, UnparsedPublicKey};
    if signature.len() != 64 {
        return Err(Error::Runtime(format!(
            "{signature_url}: {} bytes, not the 64 bytes of an ed25519 signature \
             (`openssl pkeyutl -sign -rawin` writes them; not base64); nothing was installed",
            signature.len()
        )));
    }
    UnparsedPublicKey::new(&ED25519, &key.0)
        .verify(manifest, signature)
        .map_err(|_| {
            Error::Runtime(format!(
                "{signature_url} does not verify with update_public_key: the manifest was \
                 changed after it was signed, or signed by another key; nothing was installed. \
                 Check that update_public_key is the release key's public half and that the \
                 release manager signed this very manifest"
            ))
        })
}

fn parse_manifest(text: &[u8], url: &str) -> Result<Manifest> {
    let bad = |why: String| Error::Runtime(format!("release manifest {url}: {why}"));
    let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8 text".into()))?;
    let manifest: Manifest =
        toml::from_str(text).map_err(|e| bad(format!("not a manifest ({})", e.message())))?;
    if !manifest.url.starts_with("https://") {
        return Err(bad(format!(
            "url {:?} must start with https://",
            manifest.url
        )));
    }
    if manifest.sha256.len() != 64 || !manifest.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!(
            "sha256 {:?} is not 64 hexadecimal digits",
            manifest.sha256
        )));
    }
    if parse_version(&manifest.version) == (0, 0, 0) {
        return Err(bad(format!(
            "version {:?} is not a version",
            manifest.version
        )));
    }
    Ok(manifest)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Debian's (and most distributions') bundle of trusted roots, from `ca-certificates`.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// An HTTPS-only client trusting `ca_file`'s certificates, or the system's bundle — the
/// roots the administrator already manages, and no root table inside every `--connect`.
fn agent(ca_file: Option<&Path>) -> Result<ureq::Agent> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let path = ca_file.unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
    let roots = {
        {
            let pem = fs::read(path).map_err(|e| {
                Error::Runtime(format!(
                    "cannot read the CA bundle {}: {e}; install ca-certificates or set update_ca_file",
                    path.display()
                ))
            })?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::Input(format!(
                    "{}: no PEM certificate in it; set update_ca_file to the CA bundle to trust",
                    path.display()
                )));
            }
            RootCerts::from(certs)
        }
    };
    Ok(ureq::Agent::config_builder()
        .https_only(true)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .timeout_global(Some(FETCH_TIMEOUT))
        .user_agent(format!("sentry/{}", own_version()))
        .build()
        .new_agent())
}

fn fetch(agent: &ureq::Agent, url: &str, limit: u64) -> Result<Vec<u8>> {
    let failed = |e: ureq::Error| {
        let hint = if e.to_string().contains("certificate") {
            " (a private release server needs its CA in update_ca_file)"
        } else {
            ""
        };
        Error::Runtime(format!("cannot fetch {url}: {e}{hint}"))
    };
    let mut response = agent.get(url).call().map_err(failed)?;
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(failed)
}

/// Where the Debian package installs sentry; its postinst links `$ROOT/sentry` there.
const PACKAGED_BINARY: &str = "/usr/sbin/sentry";

/// A link at `target` is someone's choice of binary — the Debian package's, whose files
/// dpkg owns and apt upgrades — and replacing it with a file would fork the installation
/// from the package. `--force` does not change that: it is about versions, not owners.
fn refuse_a_link(target: &Path) -> Result<()> {
    let Ok(dest) = fs::read_link(target) else {
        return Ok(());
    };
    let advice = if dest == Path::new(PACKAGED_BINARY) {
        "installed by the Debian package: upgrade sentry with apt          (`apt update && apt install --only-upgrade sentry`)"
            .to_string()
    } else {
        format!(
            "update {} instead, or remove the link and run `sentry update` again",
            dest.display()
        )
    };
    Err(Error::Input(format!(
        "{} is a link to {}, {advice}; nothing was installed",
        target.display(),
        dest.display()
    )))
}

/// None when `target` already has `offered` or newer (and not `force`); otherwise the
/// version installed there, if any.
fn needs_update(target: &Path, offered: &str, force: bool) -> Result<Option<Option<String>>> {
    let installed = installed_or_forced(target, force)?;
    match &installed {
        Some(theirs) if !force && parse_version(theirs) >= parse_version(offered) => Ok(None),
        _ => Ok(Some(installed)),
    }
}

/// For a release: None when `target` already has `offered` (and not `force`); otherwise
/// the version installed there, if any. An older release than the installed one (or, with
/// none installed, than this one) is refused without `force`: it is how a server replays an
/// old, validly signed manifest to roll hosts back to a release with a known hole.
fn offered_replaces(target: &Path, offered: &str, force: bool) -> Result<Option<Option<String>>> {
    let installed = installed_or_forced(target, force)?;
    if force {
        return Ok(Some(installed));
    }
    let (current, which) = match &installed {
        Some(v) => (v.as_str(), format!("installed at {}", target.display())),
        None => (own_version(), "running this update".to_string()),
    };
    match parse_version(offered).cmp(&parse_version(current)) {
        std::cmp::Ordering::Less => Err(Error::Runtime(format!(
            "the release manifest offers sentry {offered}, older than the sentry {current} \
             {which}: a withdrawn release, or an old manifest replayed by the server; \
             nothing was installed (`sentry update --force` installs it anyway)"
        ))),
        std::cmp::Ordering::Equal if installed.is_some() => Ok(None),
        _ => Ok(Some(installed)),
    }
}

/// The version installed at `target`; with `force`, something that is not sentry counts as
/// nothing installed (it is replaced).
fn installed_or_forced(target: &Path, force: bool) -> Result<Option<String>> {
    match installed_version(target) {
        Ok(version) => Ok(version),
        Err(_) if force => Ok(None),
        Err(e) => Err(e),
    }
}

fn already_current(target: &Path) -> Outcome {
    Outcome::AlreadyCurrent {
        installed: installed_version(target).ok().flatten().unwrap_or_default(),
    }
}

/// Stages `bytes` beside `target`, checks the staged file answers `sentry {version}`, keeps
/// the old binary as `sentry.old`, and renames the new one into place.
fn replace_binary(bytes: &[u8], version: &str, target: &Path) -> Result<()> {
    let staged = atomic_file::Staged::write(target, bytes, 0o750)?;
    match installed_version(staged.path()) {
        Ok(Some(v)) if v == version => {}
        Ok(found) => {
            return Err(Error::Runtime(format!(
                "the new binary answers `--version` with {}, not sentry {version}; nothing was installed",
                found
                    .map(|v| format!("sentry {v}"))
                    .unwrap_or_else(|| "nothing".into())
            )));
        }
        Err(e) => {
            return Err(Error::Runtime(format!(
                "the new binary does not run here ({e}); nothing was installed"
            )));
        }
    }
    if target.exists() {
        let old = target.with_file_name("sentry.old");
        let _ = fs::remove_file(&old);
        fs::hard_link(target, &old).map_err(|e| Error::io("keep the old binary as", &old, &e))?;
    }
    staged.commit()
}

/// The version the binary at `path` reports (`sentry X.Y.Z`), None when there is none.
/// A file that does not answer like sentry is refused rather than overwritten.
fn installed_version(path: &Path) -> Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    let out = exec::run(
        path,
        &["--version".to_string()],
        None,
        Duration::from_secs(5),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().strip_prefix("sentry ") {
        Some(version) if out.status.success() => Ok(Some(version.to_string())),
        _ => Err(Error::Input(format!(
            "{} does not answer `--version` like sentry (the Perl or bash original?); \
             move it aside, or use `sentry update --force` to replace it",
            path.display()
        ))),
    }
}

/// `1.2.3` → (1, 2, 3); missing or odd parts count as 0.
fn parse_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("3.0.10") > parse_version("3.0.9"));
        assert!(parse_version("10.0.0") > parse_version("9.9.9"));
        assert_eq!(parse_version("2.00"), (2, 0, 0));
    }

    #[test]
    fn manifests_are_checked_before_anything_is_fetched() {
        let ok = |text: &str| parse_manifest(text.as_bytes(), "https://x/m").map(|m| m.version);
        let sum = "ab".repeat(32);
        assert_eq!(
            ok(&format!(
                "version = \"3.1.0\"\nurl = \"https://x/s\"\nsha256 = \"{sum}\"\n"
            ))
            .expect("valid"),
            "3.1.0"
        );
        for bad in [
            format!("version = \"3.1.0\"\nurl = \"http://x/s\"\nsha256 = \"{sum}\"\n"),
            format!(
                "version = \"3.1.0\"\nurl = \"https://x/s\"\nsha256 = \"{}\"\n",
                &sum[1..]
            ),
            format!("version = \"latest\"\nurl = \"https://x/s\"\nsha256 = \"{sum}\"\n"),
            "<html>not found</html>".to_string(),
        ] {
            assert!(ok(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_release_key_is_raw_base64_or_the_pem_line_of_openssl_pkey() {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let raw = [7u8; 32];
        let spki = [&ED25519_SPKI_PREFIX[..], &raw].concat();
        assert_eq!(ReleaseKey::parse(&b64(&raw)), Ok(ReleaseKey(raw)));
        assert_eq!(ReleaseKey::parse(&b64(&spki)), Ok(ReleaseKey(raw)));
        // X25519 (an encryption key, OID 1.3.101.110) has the same length: not a signing key.
        let mut x25519 = spki.clone();
        x25519[8] = 0x6e;
        for bad in [b64(&x25519), b64(&raw[..31]), "AAAA".into(), "a key".into()] {
            assert!(ReleaseKey::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_older_release_than_the_running_one_is_refused_on_a_fresh_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("sentry");
        let older = "0.9.0";
        assert!(offered_replaces(&target, older, false).is_err());
        assert_eq!(
            offered_replaces(&target, older, true).ok(),
            Some(Some(None))
        );
        assert_eq!(
            offered_replaces(&target, own_version(), false).ok(),
            Some(Some(None)),
            "nothing installed: the same version is installed"
        );
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
