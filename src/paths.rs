//! Object keys as file paths and back, for the importer and the exporter.
//!
//! A key below the prefix becomes `/` + that key; a key ending in `/` (a
//! folder marker, as consoles create) is a directory. A key that is no valid
//! path (an empty segment as in `a//b`, a `.` or `..` segment, a control
//! character) is refused with the reason, never mapped onto another path:
//! two keys must never become one file, and a restore must never write
//! outside its root.

/// What a key is in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File(String),
    Directory(String),
}

/// The node of `key`, a key below the prefix (the prefix removed). The
/// prefix's own folder marker (an empty key) is the root directory `/`.
pub fn node_of_key(key: &str) -> Result<Node, String> {
    let (body, directory) = match key.strip_suffix('/') {
        Some(body) => (body, true),
        None => (key, false),
    };
    if body.is_empty() {
        return match directory || key.is_empty() {
            true => Ok(Node::Directory("/".into())),
            false => Err("an empty key is no path".into()),
        };
    }
    check_segments(body)?;
    let path = format!("/{body}");
    Ok(match directory {
        true => Node::Directory(path),
        false => Node::File(path),
    })
}

/// The key (with the prefix, `""` or `a/b/`) a file at `path` is written to.
pub fn key_of_path(prefix: &str, path: &str) -> Result<String, String> {
    let body = path.strip_prefix('/').ok_or("a path must start with `/`")?;
    if body.is_empty() {
        return Err("`/` is the root directory, not a file".into());
    }
    check_segments(body)?;
    Ok(format!("{prefix}{body}"))
}

fn check_segments(body: &str) -> Result<(), String> {
    for segment in body.split('/') {
        match segment {
            "" => {
                return Err("it has an empty segment (`//`, or a leading or trailing `/`)".into())
            }
            "." | ".." => return Err(format!("it has a `{segment}` segment")),
            _ if segment.chars().any(char::is_control) => {
                return Err("it has a control character".into())
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_paths_and_folder_markers_directories() {
        let file = |p: &str| Ok(Node::File(p.into()));
        let dir = |p: &str| Ok(Node::Directory(p.into()));
        assert_eq!(node_of_key("a"), file("/a"));
        assert_eq!(
            node_of_key("dir/sub dir/é🙂.txt"),
            file("/dir/sub dir/é🙂.txt")
        );
        assert_eq!(node_of_key("dir/"), dir("/dir"));
        assert_eq!(node_of_key("a/b/"), dir("/a/b"));
        assert_eq!(node_of_key(""), dir("/"));
        assert_eq!(node_of_key("/"), dir("/"));
        assert_eq!(node_of_key("...x"), file("/...x"));
    }

    #[test]
    fn keys_that_are_no_paths_are_refused_with_the_reason() {
        for (key, reason) in [
            ("a//b", "empty segment"),
            ("/a", "empty segment"),
            ("a//", "empty segment"),
            ("a/./b", "`.` segment"),
            ("../etc/passwd", "`..` segment"),
            ("a/..", "`..` segment"),
            ("a\nb", "control character"),
            ("a\u{0}", "control character"),
            ("a\u{7f}/b", "control character"),
        ] {
            let err = node_of_key(key).unwrap_err();
            assert!(err.contains(reason), "{key:?}: {err}");
        }
    }

    #[test]
    fn paths_go_back_to_the_same_keys() {
        for key in ["a", "dir/sub dir/é🙂.txt", "x/y/z"] {
            let Ok(Node::File(path)) = node_of_key(key) else {
                panic!("{key}")
            };
            assert_eq!(key_of_path("pfx/", &path), Ok(format!("pfx/{key}")));
            assert_eq!(key_of_path("", &path).as_deref(), Ok(key));
        }
    }

    #[test]
    fn paths_outside_the_root_or_odd_are_refused() {
        for path in ["", "a", "/", "/a/../../b", "/a//b", "/a/", "/a\r"] {
            assert!(key_of_path("pfx/", path).is_err(), "{path:?}");
        }
    }
}
