//! Reads the entries of a build artifact — a directory, `.tar`, `.tar.gz`/`.tgz` or `.zip` —
//! without extracting it: each entry's name, kind, size and content as a stream, with a bound
//! on how many bytes a compressed archive may decompress to.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use walkdir::WalkDir;

/// Most bytes read out of a compressed archive before giving up on it (a gzip or zip bomb).
pub(super) const MAX_DECOMPRESSED: u64 = 4 << 30;

/// How an artifact is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Directory,
    Tar,
    TarGz,
    Zip,
}

impl Format {
    /// What `path` is: `Err(true)` when there is nothing there, `Err(false)` when it is a file
    /// of another kind (by its extension).
    pub(super) fn of(path: &Path) -> Result<Self, bool> {
        let metadata = std::fs::metadata(path).map_err(|_| true)?;
        if metadata.is_dir() {
            return Ok(Format::Directory);
        }
        let extension = |p: &Path| p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension(path).as_deref() {
            Some("tgz") => Ok(Format::TarGz),
            Some("gz") if path.file_stem().map(Path::new).and_then(extension).as_deref() == Some("tar") => {
                Ok(Format::TarGz)
            }
            Some("tar") => Ok(Format::Tar),
            Some("zip") => Ok(Format::Zip),
            _ => Err(false),
        }
    }

    /// The name in summaries.
    pub(super) fn name(self) -> &'static str {
        match self {
            Format::Directory => "directory",
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Directory,
    /// A symbolic or hard link, a device, a PAX global header: present, but not a file to read.
    Other,
}

/// One entry of an artifact.
pub(super) struct Entry<'a> {
    /// The name as stored, without a leading `./` or a trailing `/` (not yet checked for safety).
    pub name: String,
    pub kind: Kind,
    /// The size its header (or the file system) gives; 0 for anything but a file.
    pub size: u64,
    /// The content, read on demand; what the visitor leaves unread is skipped.
    pub content: &'a mut dyn Read,
}

/// Why a walk stopped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WalkError {
    /// The archive decompressed to more than the limit.
    TooLarge,
    /// It is corrupt, encrypted or unreadable.
    Unreadable(String),
}

/// Calls `visit` for every entry of the artifact at `path`, in stored order (a directory's in
/// name order, without following symbolic links), reading at most `limit` decompressed bytes out
/// of a `.tar.gz` or `.zip`.
pub(super) fn walk(
    path: &Path,
    format: Format,
    limit: u64,
    visit: &mut dyn FnMut(Entry<'_>) -> io::Result<()>,
) -> Result<(), WalkError> {
    let meter = Meter { left: Cell::new(limit), exceeded: Cell::new(false) };
    let result = match format {
        Format::Directory => walk_directory(path, visit),
        // A plain tar is bounded by its size on disk; only decompression can run away. A .tar.gz
        // may hold several gzip members (concatenated, or written by parallel compressors).
        Format::Tar => open(path).and_then(|file| walk_tar(file, visit)),
        Format::TarGz => open(path)
            .and_then(|file| walk_tar(Budget { inner: flate2::read::MultiGzDecoder::new(file), meter: &meter }, visit)),
        Format::Zip => open(path).and_then(|file| walk_zip(file, &meter, visit)),
    };
    if meter.exceeded.get() {
        return Err(WalkError::TooLarge);
    }
    result
}

/// `name` without leading `./` and trailing `/`.
pub(super) fn normalize(name: &str) -> &str {
    let mut name = name;
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    name.trim_end_matches('/')
}

fn open(path: &Path) -> Result<BufReader<File>, WalkError> {
    File::open(path).map(BufReader::new).map_err(|e| WalkError::Unreadable(e.to_string()))
}

fn walk_directory(root: &Path, visit: &mut dyn FnMut(Entry<'_>) -> io::Result<()>) -> Result<(), WalkError> {
    for item in WalkDir::new(root).follow_links(false).sort_by_file_name().min_depth(1) {
        let item = item.map_err(|e| WalkError::Unreadable(e.to_string()))?;
        let name = item
            .path()
            .strip_prefix(root)
            .unwrap_or(item.path())
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let file_type = item.file_type();
        let (kind, size) = if file_type.is_file() {
            let size = item.metadata().map_err(|e| WalkError::Unreadable(format!("{name}: {e}")))?.len();
            (Kind::File, size)
        } else if file_type.is_dir() {
            (Kind::Directory, 0)
        } else {
            (Kind::Other, 0)
        };
        let mut content: Box<dyn Read> = if kind == Kind::File {
            Box::new(LazyFile { path: item.path(), file: None })
        } else {
            Box::new(io::empty())
        };
        visit(Entry { name, kind, size, content: &mut content })
            .map_err(|e| WalkError::Unreadable(format!("{}: {e}", item.path().display())))?;
    }
    Ok(())
}

fn walk_tar(reader: impl Read, visit: &mut dyn FnMut(Entry<'_>) -> io::Result<()>) -> Result<(), WalkError> {
    let unreadable = |e: io::Error| WalkError::Unreadable(e.to_string());
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = normalize(&raw).to_owned();
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => Kind::File,
            tar::EntryType::Directory => Kind::Directory,
            _ => Kind::Other,
        };
        if name.is_empty() {
            continue;
        }
        let size = if kind == Kind::File { entry.size() } else { 0 };
        visit(Entry { name: name.clone(), kind, size, content: &mut entry })
            .map_err(|e| WalkError::Unreadable(format!("{name}: {e}")))?;
    }
    Ok(())
}

fn walk_zip(
    reader: BufReader<File>,
    meter: &Meter,
    visit: &mut dyn FnMut(Entry<'_>) -> io::Result<()>,
) -> Result<(), WalkError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| WalkError::Unreadable(e.to_string()))?;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(|e| WalkError::Unreadable(format!("entry {index}: {e}")))?;
        let raw = file
            .name()
            .map_or_else(|_| String::from_utf8_lossy(file.name_raw()).into_owned(), std::borrow::Cow::into_owned);
        let name = normalize(&raw).to_owned();
        if name.is_empty() {
            continue;
        }
        let kind = if file.is_dir() {
            Kind::Directory
        } else if file.is_symlink() {
            Kind::Other
        } else {
            Kind::File
        };
        let size = if kind == Kind::File { file.size() } else { 0 };
        let mut content = Budget { inner: &mut file, meter };
        let visited = visit(Entry { name: name.clone(), kind, size, content: &mut content });
        // Each entry is decompressed to its end even when nobody wants it: its CRC is checked
        // then, and a size its header understates still counts against the limit.
        let drained = visited.and_then(|()| io::copy(&mut content, &mut io::sink()).map(drop));
        drained.map_err(|e| WalkError::Unreadable(format!("{name}: {e}")))?;
    }
    Ok(())
}

/// The bytes an archive may still decompress to, shared by all its entries.
struct Meter {
    left: Cell<u64>,
    exceeded: Cell<bool>,
}

/// A reader that fails once its meter runs out.
struct Budget<'m, R> {
    inner: R,
    meter: &'m Meter,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.meter.left.get();
        if left == 0 {
            // Only a byte past the limit is too much: an archive of exactly the limit is fine.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.meter.exceeded.set(true);
            return Err(io::Error::other("the archive decompresses to more than the limit"));
        }
        let room = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let read = self.inner.read(&mut buf[..room])?;
        self.meter.left.set(left - read as u64);
        Ok(read)
    }
}

/// A file opened on its first read, so that walking a directory opens only what is read.
struct LazyFile<'p> {
    path: &'p Path,
    file: Option<File>,
}

impl Read for LazyFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(File::open(self.path)?),
        };
        file.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn tar_gz(dir: &Path, files: &[(&str, &[u8])]) -> std::path::PathBuf {
        let path = dir.join("app.tar.gz");
        let gz = flate2::write::GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap().flush().unwrap();
        path
    }

    fn names(path: &Path, limit: u64) -> Result<Vec<(String, u64)>, WalkError> {
        let format = Format::of(path).unwrap();
        let mut seen = Vec::new();
        walk(path, format, limit, &mut |entry| {
            let mut data = Vec::new();
            entry.content.read_to_end(&mut data)?;
            seen.push((entry.name, data.len() as u64));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 2 << 20];
        let path = tar_gz(dir.path(), &[("small.txt", b"hello"), ("bomb.bin", &zeros)]);
        assert!(std::fs::metadata(&path).unwrap().len() < 64 << 10, "it compresses well");
        assert_eq!(names(&path, 1 << 20), Err(WalkError::TooLarge));
        let whole = names(&path, 4 << 20).unwrap();
        assert_eq!(whole, [("small.txt".to_owned(), 5), ("bomb.bin".to_owned(), 2 << 20)]);
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit_even_when_nobody_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.zip");
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("bomb.bin", options).unwrap();
        zip.write_all(&vec![0u8; 2 << 20]).unwrap();
        zip.finish().unwrap();
        let result = walk(&path, Format::Zip, 1 << 20, &mut |_| Ok(()));
        assert_eq!(result, Err(WalkError::TooLarge));
    }

    #[test]
    fn corrupt_archives_are_unreadable_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["bad.tar.gz", "bad.zip", "bad.tar"] {
            let path = dir.path().join(name);
            // Longer than a tar block, so that tar reads a header and finds it wrong.
            std::fs::write(&path, b"not an archive ".repeat(50)).unwrap();
            let result = names(&path, MAX_DECOMPRESSED);
            assert!(matches!(result, Err(WalkError::Unreadable(_))), "{name}: {result:?}");
        }
    }

    #[test]
    fn names_lose_their_dot_slash_and_trailing_slash() {
        assert_eq!(normalize("./app/main.py"), "app/main.py");
        assert_eq!(normalize("././static/"), "static");
        assert_eq!(normalize("./"), "");
    }
}
