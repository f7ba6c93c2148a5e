//! The rules of SPEC §3.12 for an image artifact of a transfer manifest:
//! its `path` is the layout folder `<name>.oci`, it names the image and the
//! pinned digest, and every file under the folder is a file of the layout
//! (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), listed in `files`
//! and claimed by this artifact alone.

use super::{Claims, FileEntry, ManifestArtifact, invalid};
use crate::error::Result;
use crate::image::{IMAGE_DIR_SUFFIX, OCI_FORMAT, check_tag};

impl ManifestArtifact {
    /// Whether the artifact is a container image (`"format": "oci"`).
    #[must_use]
    pub fn is_image(&self) -> bool {
        self.format.as_str() == OCI_FORMAT
    }
}

/// Whether `rest` (a path below an image folder) is a file an image layout
/// holds.
fn is_layout_file(rest: &str) -> bool {
    match rest {
        "oci-layout" | "index.json" => true,
        _ => rest.strip_prefix("blobs/sha256/").is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }),
    }
}

/// An image artifact at `at`: its fields, its folder, its files.
pub(super) fn check<'f>(
    at: &str,
    a: &ManifestArtifact,
    files: &'f [FileEntry],
    claims: &mut Claims<'f>,
) -> Result<()> {
    if !a.path.file_name().ends_with(IMAGE_DIR_SUFFIX) {
        return Err(invalid(
            format!("{at}.path"),
            format!(
                "\"{}\": an image's layout folder is named <name>{IMAGE_DIR_SUFFIX}",
                a.path
            ),
        ));
    }
    let Some(digest) = &a.digest else {
        return Err(invalid(
            format!("{at}.digest"),
            "required for an artifact of format oci".into(),
        ));
    };
    if a.image.is_none() {
        return Err(invalid(
            format!("{at}.image"),
            "required for an artifact of format oci".into(),
        ));
    }
    if let Some(t) = &a.tag {
        check_tag(t).map_err(|m| invalid(format!("{at}.tag"), m))?;
    }
    if claims.listed.contains(&a.path) {
        return Err(invalid(
            format!("{at}.path"),
            format!(
                "\"{}\" is an image's folder and cannot also be a file",
                a.path
            ),
        ));
    }
    let prefix = a.path.as_str();
    let mine = claim_layout_files(at, prefix, files, claims)?;
    for needed in [
        "oci-layout".to_string(),
        "index.json".to_string(),
        format!("blobs/sha256/{}", digest.hex()),
    ] {
        let full = format!("{prefix}/{needed}");
        if !mine.iter().any(|f| f.path.as_str() == full) {
            return Err(invalid(
                format!("{at}.path"),
                format!("the image's {needed} (\"{full}\") is not listed in files"),
            ));
        }
    }
    Ok(())
}

/// Claims every listed file under the image folder `prefix` for the
/// artifact at `at`: each a layout file, each blob bound to its name.
fn claim_layout_files<'f>(
    at: &str,
    prefix: &str,
    files: &'f [FileEntry],
    claims: &mut Claims<'f>,
) -> Result<Vec<&'f FileEntry>> {
    let mut mine: Vec<&FileEntry> = files
        .iter()
        .filter(|f| f.path.starts_with_dir(prefix))
        .collect();
    mine.sort_by(|x, y| x.path.cmp(&y.path));
    for f in &mine {
        let p = &f.path;
        let rest = &p.as_str()[prefix.len() + 1..];
        if !is_layout_file(rest) {
            return Err(invalid(
                format!("{at}.path"),
                format!(
                    "\"{p}\" is not a file of an image layout (oci-layout, index.json, blobs/sha256/<hex>)"
                ),
            ));
        }
        // A blob is named by its digest: the manifest binds the two, so a
        // blob file that passed its SHA-256 is the blob its name says.
        if rest
            .strip_prefix("blobs/sha256/")
            .is_some_and(|hex| hex != f.sha256.to_hex())
        {
            return Err(invalid(
                format!("{at}.path"),
                format!("\"{p}\" is listed with another SHA-256 than its name"),
            ));
        }
        claims.claim(p, || format!("{at}.path"))?;
    }
    Ok(mine)
}

/// A file artifact at `at` has none of the image fields.
pub(super) fn check_not_image(at: &str, a: &ManifestArtifact) -> Result<()> {
    for (field, present) in [
        ("image", a.image.is_some()),
        ("tag", a.tag.is_some()),
        ("digest", a.digest.is_some()),
    ] {
        if present {
            return Err(invalid(
                format!("{at}.{field}"),
                format!(
                    "only an artifact of format oci has {field} (this one is {})",
                    a.format
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::digest::OciDigest;
    use crate::manifest::{FileRole, Manifest};
    use crate::path::BundlePath;

    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn root() -> OciDigest {
        OciDigest::of(b"root manifest")
    }

    fn manifest(artifact_extra: &str, files: &[String]) -> String {
        let files: Vec<String> = std::iter::once("releases/1.0.0/NOTES.md".to_string())
            .chain(files.iter().cloned())
            .map(|p| {
                let sha = match p.rsplit_once("blobs/sha256/") {
                    Some((_, hex)) if hex.len() == 64 => hex.to_string(),
                    _ => ZERO.to_string(),
                };
                format!(r#"{{"path":"{p}","size":1,"sha256":"{sha}"}}"#)
            })
            .collect();
        format!(
            r#"{{"schema":"ferry.manifest/v1","product":"novantra","sequence":1,
            "created":"2026-11-20T10:00:00Z","expires":"2026-12-20T10:00:00Z",
            "source":{{"index_url":"https://v.example/index.json","index_sha256":"{ZERO}","fetched":"2026-11-20T10:00:00Z"}},
            "selection":{{"channels":["stable"],"profiles":["no-training"]}},
            "releases":[{{"version":"1.0.0","channels":["stable"],"published":"2026-11-01T00:00:00Z",
              "notes":"releases/1.0.0/NOTES.md",
              "artifacts":[{{"path":"releases/1.0.0/no-training/onprem.oci","profile":"no-training",
                "platform":"linux-amd64","format":"oci"{artifact_extra}}}]}}],
            "files":[{}]}}"#,
            files.join(",")
        )
    }

    fn layout_files(extra: &[&str]) -> Vec<String> {
        let dir = "releases/1.0.0/no-training/onprem.oci";
        let mut v = vec![
            format!("{dir}/oci-layout"),
            format!("{dir}/index.json"),
            format!("{dir}/blobs/sha256/{}", root().hex()),
            format!("{dir}/blobs/sha256/{ZERO}"),
        ];
        v.extend(extra.iter().map(|e| format!("{dir}/{e}")));
        v
    }

    fn fields() -> String {
        format!(
            r#","image":"registry.novantra.example/novantra/onprem","tag":"1.0.0","digest":"{}""#,
            root()
        )
    }

    #[test]
    fn image_artifact_owns_its_layout_files() {
        let m = Manifest::parse(manifest(&fields(), &layout_files(&[])).as_bytes()).unwrap();
        let a = &m.releases[0].artifacts[0];
        assert!(a.is_image());
        assert_eq!(a.digest, Some(root()));
        let blob = BundlePath::new(&format!("{}/blobs/sha256/{ZERO}", a.path)).unwrap();
        assert!(matches!(m.role_of(&blob), Some(FileRole::ImageFile(_, x)) if x == a));
        // Round trip: the image fields are written back.
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);
    }

    /// The hash index answers exactly as the linear lookups, for every
    /// listed file, a folder of the layout, and paths that are not there.
    #[test]
    fn path_index_agrees_with_the_linear_lookups() {
        let m = Manifest::parse(manifest(&fields(), &layout_files(&[])).as_bytes()).unwrap();
        let ix = crate::manifest::PathIndex::of(&m);
        let dir = m.releases[0].artifacts[0].path.to_string();
        let mut paths: Vec<String> = m.files.iter().map(|f| f.path.to_string()).collect();
        paths.push(m.releases[0].notes.to_string());
        paths.extend([
            dir.clone(),
            format!("{dir}/blobs"),
            format!("{dir}x/blobs/sha256/{ZERO}"),
            "releases/9.9.9/NOTES.md".into(),
        ]);
        for p in &paths {
            let bp = BundlePath::new(p).unwrap();
            assert_eq!(ix.role(&m, &bp), m.role_of(&bp), "{p}");
            assert_eq!(ix.file(&m, p), m.file(p), "{p}");
        }
    }

    #[test]
    fn image_rules_refuse_naming_the_field() {
        let cases: Vec<(String, Vec<String>, &str)> = vec![
            (String::new(), layout_files(&[]), "digest"),
            (
                fields().replace(
                    r#","image":"registry.novantra.example/novantra/onprem""#,
                    "",
                ),
                layout_files(&[]),
                "image",
            ),
            (fields().replace("1.0.0", "a/b"), layout_files(&[]), "tag"),
            (
                fields(),
                layout_files(&["blobs/sha256/xyz"]),
                "not a file of an image layout",
            ),
            (
                fields(),
                layout_files(&["extra.txt"]),
                "not a file of an image layout",
            ),
            (fields(), layout_files(&[])[1..].to_vec(), "oci-layout"),
            (
                fields(),
                layout_files(&[])
                    .into_iter()
                    .filter(|p| !p.contains(&root().hex()))
                    .collect(),
                "is not listed in files",
            ),
            (
                fields(),
                {
                    let mut v = layout_files(&[]);
                    v.push("releases/1.0.0/no-training/onprem.oci".into());
                    v
                },
                "is also a file",
            ),
        ];
        for (extra, files, needle) in cases {
            let err = Manifest::parse(manifest(&extra, &files).as_bytes()).unwrap_err();
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn a_blob_file_is_bound_to_its_name() {
        let text = manifest(&fields(), &layout_files(&[]));
        let swapped = text.replacen(
            &format!(r#"{}","size":1,"sha256":"{}""#, root().hex(), root().hex()),
            &format!(r#"{}","size":1,"sha256":"{ZERO}""#, root().hex()),
            1,
        );
        assert_ne!(text, swapped);
        let err = Manifest::parse(swapped.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("another SHA-256 than its name"),
            "{err}"
        );
    }

    #[test]
    fn file_artifact_has_no_image_fields() {
        let text = manifest(&fields(), &layout_files(&[]))
            .replace(r#""format":"oci""#, r#""format":"deb""#);
        let err = Manifest::parse(text.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("only an artifact of format oci"),
            "{err}"
        );
    }
}
