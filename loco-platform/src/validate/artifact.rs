//! The artifact check: the build artifact exists, is a format Loco reads, holds the required
//! files, stays within its size limits, has no entry that would escape its directory, and matches
//! its SHA-256 and checksum file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use loco_types::plan::{ArtifactCheck, CheckKind, Finding, Severity};
use sha2::{Digest, Sha256};

use super::archive::{self, Entry, Format, Kind, MAX_DECOMPRESSED, WalkError, normalize};
use super::{Outcome, checksums, finding, hex, human_bytes, plural};

/// Largest checksum file read.
const MAX_CHECKSUM_FILE: u64 = 16 << 20;

/// Runs the artifact check (blocking: it reads the whole artifact).
pub(super) fn check(spec: &ArtifactCheck) -> Outcome {
    let path = Path::new(&spec.path);
    let format = match Format::of(path) {
        Ok(format) => format,
        Err(missing) => {
            let (rule, message) = if missing {
                ("missing_artifact", format!("there is no artifact at {}", spec.path))
            } else {
                (
                    "unsupported_artifact",
                    format!("{} is not a directory, .tar, .tar.gz, .tgz or .zip archive", spec.path),
                )
            };
            let summary = if missing { "missing" } else { "unsupported format" };
            return Outcome {
                findings: vec![blocking(rule, Severity::High, &spec.path, message)],
                summary: summary.into(),
            };
        }
    };
    let mut findings = Vec::new();
    let archive_digest = digest_of_archive(spec, path, format, &mut findings);
    if let Some(expected) = &spec.sha256 {
        if format == Format::Directory {
            let message = "sha256 applies to archives only; use a checksum file for a directory".to_owned();
            findings.push(blocking("unsupported_check", Severity::High, &spec.path, message));
        } else if let Some(actual) = &archive_digest
            && !actual.eq_ignore_ascii_case(expected)
        {
            let message = format!("{} has SHA-256 {actual}, expected {}", spec.path, expected.to_ascii_lowercase());
            findings.push(blocking("checksum_mismatch", Severity::Critical, &spec.path, message));
        }
    }

    let inside = spec.checksum_file.as_deref().filter(|p| !Path::new(p).is_absolute()).map(normalize);
    let mut listing = Listing { hash: spec.checksum_file.is_some(), keep: inside, ..Listing::default() };
    let walked = archive::walk(path, format, MAX_DECOMPRESSED, &mut |entry| listing.add(entry));
    for name in &listing.unsafe_names {
        let message = format!("entry {name:?} would be written outside the artifact's directory");
        findings
            .push(Finding { file: Some(name.clone()), ..blocking("unsafe_path", Severity::Critical, name, message) });
    }
    if let Err(error) = walked {
        findings.push(match error {
            WalkError::TooLarge => blocking(
                "too_large",
                Severity::High,
                &spec.path,
                format!("{} decompresses to more than {} GiB; stopped reading", spec.path, MAX_DECOMPRESSED >> 30),
            ),
            WalkError::Unreadable(why) => {
                blocking("unreadable_artifact", Severity::High, &spec.path, format!("cannot read {}: {why}", spec.path))
            }
        });
        // What was not read cannot be checked: missing files would only be noise.
        return Outcome { findings, summary: format!("unreadable ({})", format.name()) };
    }

    limits(spec, &listing, &mut findings);
    for required in &spec.required_files {
        if !listing.has(normalize(required)) {
            let message = format!("required file {required} is not in the artifact");
            findings.push(Finding {
                file: Some(required.clone()),
                ..blocking("missing_file", Severity::High, required, message)
            });
        }
    }
    if let Some(checksum_file) = &spec.checksum_file {
        verify_checksums(checksum_file, path, format, &listing, archive_digest.as_deref(), &mut findings);
    }
    let summary =
        format!("{}, {} ({})", plural(listing.files.len(), "file"), human_bytes(listing.total), format.name());
    Outcome { findings, summary }
}

fn blocking(rule: &str, severity: Severity, location: &str, message: String) -> Finding {
    finding(CheckKind::Artifact, rule, severity, true, location, message)
}

/// The archive's own SHA-256, when `sha256` or a checksum file may need it.
fn digest_of_archive(spec: &ArtifactCheck, path: &Path, format: Format, findings: &mut Vec<Finding>) -> Option<String> {
    if format == Format::Directory || (spec.sha256.is_none() && spec.checksum_file.is_none()) {
        return None;
    }
    let digested = std::fs::File::open(path).and_then(|mut file| {
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher)?;
        Ok(hex(&hasher.finalize()))
    });
    digested
        .map_err(|e| {
            let message = format!("cannot read {}: {e}", spec.path);
            findings.push(blocking("unreadable_artifact", Severity::High, &spec.path, message));
        })
        .ok()
}

/// What the walk saw.
#[derive(Default)]
struct Listing<'a> {
    /// Whether to hash every file (a checksum file will be compared).
    hash: bool,
    /// The artifact-relative checksum file to keep the text of.
    keep: Option<&'a str>,
    files: BTreeMap<String, (u64, Option<String>)>,
    others: BTreeSet<String>,
    unsafe_names: Vec<String>,
    total: u64,
    kept: Option<Vec<u8>>,
}

impl Listing<'_> {
    fn add(&mut self, entry: Entry<'_>) -> io::Result<()> {
        if is_unsafe(&entry.name) {
            self.unsafe_names.push(entry.name.clone());
        }
        if entry.kind != Kind::File {
            self.others.insert(entry.name);
            return Ok(());
        }
        let keep = self.keep == Some(entry.name.as_str());
        let mut digest = None;
        if self.hash || keep {
            let mut hasher = Sha256::new();
            let mut kept = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let read = entry.content.read(&mut buf)?;
                if read == 0 {
                    break;
                }
                hasher.update(&buf[..read]);
                if keep && (kept.len() as u64) <= MAX_CHECKSUM_FILE {
                    kept.extend_from_slice(&buf[..read]);
                }
            }
            digest = Some(hex(&hasher.finalize()));
            if keep {
                self.kept = Some(kept);
            }
        }
        self.total = self.total.saturating_add(entry.size);
        self.files.insert(entry.name, (entry.size, digest));
        Ok(())
    }

    /// Whether `name` is a file, link or directory of the artifact (a directory also when only
    /// implied by the files in it).
    fn has(&self, name: &str) -> bool {
        if self.files.contains_key(name) || self.others.contains(name) {
            return true;
        }
        let prefix = format!("{name}/");
        let starts = |set: Option<&String>| set.is_some_and(|k| k.starts_with(&prefix));
        starts(self.files.range(prefix.clone()..).next().map(|(k, _)| k))
            || starts(self.others.range(prefix.clone()..).next())
    }
}

/// Absolute, or climbing out with `..` (either separator: the archive may come from Windows).
fn is_unsafe(name: &str) -> bool {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    name.starts_with('/') || name.starts_with('\\') || drive || name.split(['/', '\\']).any(|part| part == "..")
}

fn limits(spec: &ArtifactCheck, listing: &Listing<'_>, findings: &mut Vec<Finding>) {
    if let Some(max) = spec.max_file_bytes {
        for (name, (size, _)) in listing.files.iter().filter(|(_, (size, _))| *size > max) {
            let message = format!("{name} is {} ({size} bytes), over max_file_bytes {max}", human_bytes(*size));
            findings.push(Finding { file: Some(name.clone()), ..blocking("too_large", Severity::High, name, message) });
        }
    }
    if let Some(max) = spec.max_bytes
        && listing.total > max
    {
        let message = format!(
            "the artifact's files total {} ({} bytes), over max_bytes {max}",
            human_bytes(listing.total),
            listing.total
        );
        findings.push(blocking("too_large", Severity::High, &spec.path, message));
    }
}

/// Compares every line of the checksum file with the artifact (or, for the archive's own name,
/// with the archive).
fn verify_checksums(
    checksum_file: &str,
    path: &Path,
    format: Format,
    listing: &Listing<'_>,
    archive_digest: Option<&str>,
    findings: &mut Vec<Finding>,
) {
    let (text, location, inside) = match locate(checksum_file, path, listing) {
        Ok(found) => found,
        Err(why) => {
            findings.push(blocking("missing_file", Severity::High, checksum_file, why));
            return;
        }
    };
    let parsed = checksums::parse(&String::from_utf8_lossy(&text));
    for line in parsed.malformed {
        let message = format!("line {line} of checksum file {location} is not `<sha256>  <name>`");
        findings.push(Finding {
            file: inside.clone(),
            line: Some(line),
            ..blocking("bad_checksum_file", Severity::High, &format!("{location}:{line}"), message)
        });
    }
    let archive_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    for listed in parsed.listed {
        let own = format != Format::Directory && archive_name.as_deref() == Some(listed.name.as_str());
        let actual = if own {
            archive_digest.map(str::to_owned)
        } else {
            listing.files.get(&listed.name).and_then(|f| f.1.clone())
        };
        let on = format!("listed on line {} of {location}", listed.line);
        let Some(actual) = actual else {
            if !own {
                let message = format!("{} ({on}) is not in the artifact", listed.name);
                let missing = blocking("missing_file", Severity::High, &listed.name, message);
                findings.push(Finding { file: Some(listed.name.clone()), ..missing });
            }
            continue;
        };
        if actual != listed.digest {
            let message = format!("{} has SHA-256 {actual}, {on} as {}", listed.name, listed.digest);
            let mismatch = blocking("checksum_mismatch", Severity::Critical, &listed.name, message);
            findings.push(if own { mismatch } else { Finding { file: Some(listed.name), ..mismatch } });
        }
    }
}

/// The checksum file's text, where it was found, and its artifact-relative name when it was
/// inside the artifact.
fn locate(
    checksum_file: &str,
    path: &Path,
    listing: &Listing<'_>,
) -> Result<(Vec<u8>, String, Option<String>), String> {
    let given = Path::new(checksum_file);
    if !given.is_absolute()
        && let Some(text) = &listing.kept
    {
        let name = normalize(checksum_file).to_owned();
        return Ok((text.clone(), name.clone(), Some(name)));
    }
    let on_disk: PathBuf =
        if given.is_absolute() { given.to_owned() } else { path.parent().unwrap_or(Path::new(".")).join(given) };
    let read = std::fs::File::open(&on_disk).and_then(|file| {
        let mut text = Vec::new();
        file.take(MAX_CHECKSUM_FILE).read_to_end(&mut text)?;
        Ok(text)
    });
    match read {
        Ok(text) => Ok((text, on_disk.display().to_string(), None)),
        Err(e) if given.is_absolute() => Err(format!("cannot read checksum file {checksum_file}: {e}")),
        Err(_) => Err(format!(
            "checksum file {checksum_file} is neither in the artifact nor next to it ({})",
            on_disk.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_absolute_or_climb_out() {
        for name in ["/etc/passwd", "../evil.sh", "app/../../x", "\\windows\\x", "C:\\x", "a\\..\\..\\b"] {
            assert!(is_unsafe(name), "{name}");
        }
        for name in ["app/main.py", "..hidden", "a..b/c", "static/x..y"] {
            assert!(!is_unsafe(name), "{name}");
        }
    }
}
