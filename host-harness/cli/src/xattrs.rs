//! Extended attributes of local files, for `import --data` (which writes an
//! object's `s3.*` attributes as `user.s3.*`) and `export` (which reads
//! them back): Linux keeps user attributes in the `user.` namespace only.
//! A filesystem without them (tmpfs before 6.6, some network mounts) makes
//! `set` fail and `list` answer nothing.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where our attributes live on a Linux filesystem.
const NAMESPACE: &str = "user.";

/// The `s3.*` attributes of `path` (without the `user.` namespace), name
/// order; none where the filesystem keeps none.
pub fn s3_attributes(path: &Path) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in list(path)? {
        let Some(short) = name.strip_prefix(NAMESPACE) else {
            continue;
        };
        if !short.starts_with("s3.") {
            continue;
        }
        let value = get(path, &name)?;
        let value = String::from_utf8(value).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: attribute {name} is not UTF-8", path.display()),
            )
        })?;
        out.push((short.to_owned(), value));
    }
    out.sort();
    Ok(out)
}

/// Sets `user.<name>` on `path`.
pub fn set(path: &Path, name: &str, value: &str) -> io::Result<()> {
    let path = c_path(path)?;
    let name = c_text(&format!("{NAMESPACE}{name}"))?;
    // SAFETY: both strings are NUL-terminated and live across the call; the
    // value pointer and length describe `value`'s bytes.
    let r = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn list(path: &Path) -> io::Result<Vec<String>> {
    let c = c_path(path)?;
    let mut buffer = vec![0u8; 4096];
    loop {
        // SAFETY: the buffer pointer and length describe `buffer`.
        let n = unsafe { libc::llistxattr(c.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
        match n {
            n if n >= 0 => {
                buffer.truncate(n as usize);
                break;
            }
            _ => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ERANGE) => buffer.resize(buffer.len() * 4, 0),
                e if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
                e => return Err(e),
            },
        }
    }
    Ok(buffer
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

fn get(path: &Path, name: &str) -> io::Result<Vec<u8>> {
    let c = c_path(path)?;
    let name = c_text(name)?;
    let mut buffer = vec![0u8; 4096];
    loop {
        // SAFETY: the buffer pointer and length describe `buffer`.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                name.as_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        match n {
            n if n >= 0 => {
                buffer.truncate(n as usize);
                return Ok(buffer);
            }
            _ => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ERANGE) => buffer.resize(buffer.len() * 4, 0),
                e => return Err(e),
            },
        }
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
}

fn c_text(text: &str) -> io::Result<CString> {
    CString::new(text)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name with a NUL byte"))
}
