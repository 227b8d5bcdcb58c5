//! Finding log files and ordering them into streams (§6.2): walk `log_directory`, keep the
//! files whose full path matches the anchored `file_match`, group them by
//! `differentiator`, and sort each group oldest to newest by the `priority` captures.

use regex::Regex;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Settings as read from config.
#[derive(Debug, Clone, Default)]
pub struct DiscoverySettings {
    pub log_directory: PathBuf,
    pub file_match: String,
    /// Capture names to sort by; `^Name` sorts that key descending.
    pub priority: Vec<String>,
    /// Capture names or literal text, concatenated into the stream name.
    pub differentiator: Vec<String>,
    /// Capture name → (lowercased value → sort score).
    pub translation: BTreeMap<String, BTreeMap<String, i64>>,
    /// Files last modified longer ago than this are ignored (`None`: no limit).
    pub oldest_duration: Option<Duration>,
}

/// Compiled discovery settings of one LogstreamerInput.
#[derive(Debug)]
pub struct Discovery {
    root: PathBuf,
    regex: Regex,
    /// (capture name, descending)
    priority: Vec<(String, bool)>,
    differentiator: Vec<String>,
    translation: BTreeMap<String, BTreeMap<String, i64>>,
    oldest: Option<Duration>,
}

/// One stream: its name (the message Logger) and its files, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub name: String,
    pub files: Vec<PathBuf>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Discovery {
    /// Compiles `^` + quoted `log_directory/` + `file_match` (+ `$`).
    pub fn new(settings: DiscoverySettings) -> Result<Discovery, String> {
        let root = std::fs::canonicalize(&settings.log_directory)
            .unwrap_or_else(|_| settings.log_directory.clone());
        let mut prefix = root.to_string_lossy().into_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        let mut pattern = format!("^{}{}", regex::escape(&prefix), settings.file_match);
        if !pattern.ends_with('$') {
            pattern.push('$');
        }
        let regex = Regex::new(&pattern).map_err(|e| format!("file_match: {e}"))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        let mut priority = Vec::new();
        for p in &settings.priority {
            let (name, descending) = match p.strip_prefix('^') {
                Some(n) => (n, true),
                None => (p.as_str(), false),
            };
            if !names.contains(&name) {
                return Err(format!(
                    "priority: {name:?} is not a named capture of file_match"
                ));
            }
            priority.push((name.to_owned(), descending));
        }
        let mut translation = BTreeMap::new();
        for (name, map) in settings.translation {
            if map.len() == 1 && !map.contains_key("missing") {
                return Err(format!(
                    "translation.{name}: a map with one entry must be `missing = N`"
                ));
            }
            let lowered = map
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect();
            translation.insert(name, lowered);
        }
        Ok(Discovery {
            root,
            regex,
            priority,
            differentiator: settings.differentiator,
            translation,
            oldest: settings.oldest_duration.filter(|d| !d.is_zero()),
        })
    }

    /// The directory scanned.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Scans the directory: the streams by name, and the problems found (files or
    /// streams skipped). A directory that does not exist yet has no streams.
    pub fn scan(&self, now: SystemTime) -> (Vec<Stream>, Vec<String>) {
        let mut errors = Vec::new();
        if !self.root.exists() {
            // Not an error: the program writing the logs may not have started yet.
            return (Vec::new(), errors);
        }
        let mut files = Vec::new();
        walk(&self.root, &mut files, &mut errors);
        let mut groups: BTreeMap<String, Vec<(Vec<i64>, PathBuf)>> = BTreeMap::new();
        for path in files {
            let Some(text) = path.to_str() else { continue };
            let Some(caps) = self.regex.captures(text) else {
                continue;
            };
            if let Some(limit) = self.oldest {
                let modified = std::fs::metadata(&path).and_then(|m| m.modified());
                if let Ok(modified) = modified {
                    if now.duration_since(modified).is_ok_and(|age| age > limit) {
                        continue;
                    }
                }
            }
            let mut scores = Vec::with_capacity(self.priority.len());
            let mut failed = None;
            for (name, _) in &self.priority {
                let value = caps.name(name).map_or("", |m| m.as_str());
                match self.score(name, value) {
                    Ok(s) => scores.push(s),
                    Err(e) => {
                        failed = Some(format!("{}: {e}", path.display()));
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                errors.push(e);
                continue;
            }
            let name: String = self
                .differentiator
                .iter()
                .map(
                    |part| match self.regex.capture_names().flatten().any(|n| n == part) {
                        true => caps.name(part).map_or("", |m| m.as_str()),
                        false => part.as_str(),
                    },
                )
                .collect();
            groups.entry(name).or_default().push((scores, path));
        }
        let mut streams = Vec::new();
        for (name, mut files) in groups {
            if files.len() > 1 && self.priority.is_empty() {
                errors.push(format!(
                    "Found multiple logfiles without Priority to sort on for stream '{name}'"
                ));
                continue;
            }
            files.sort_by(|a, b| self.compare(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
            streams.push(Stream {
                name,
                files: files.into_iter().map(|f| f.1).collect(),
            });
        }
        (streams, errors)
    }

    fn compare(&self, a: &[i64], b: &[i64]) -> Ordering {
        for (i, (_, descending)) in self.priority.iter().enumerate() {
            let order = a[i].cmp(&b[i]);
            if order != Ordering::Equal {
                return if *descending { order.reverse() } else { order };
            }
        }
        Ordering::Equal
    }

    /// The sort score of a captured `value` (§6.2).
    fn score(&self, name: &str, value: &str) -> Result<i64, String> {
        let map = self.translation.get(name);
        if value.is_empty() {
            return Ok(map.and_then(|m| m.get("missing")).copied().unwrap_or(-1));
        }
        let lower = value.to_lowercase();
        if name == "MonthName" {
            return MONTHS
                .iter()
                .position(|m| *m == lower || m[..3] == lower)
                .map(|i| i as i64 + 1)
                .ok_or_else(|| format!("Unable to locate month name: {value}"));
        }
        if name == "DayName" {
            return DAYS
                .iter()
                .position(|d| *d == lower || d[..3] == lower)
                .map(|i| i as i64)
                .ok_or_else(|| format!("Unable to locate day name: {value}"));
        }
        if let Some(map) = map.filter(|m| m.len() > 1) {
            return map
                .get(&lower)
                .copied()
                .ok_or_else(|| format!("Value '{value}' not found in translation map '{name}'."));
        }
        // Heka parses digits; other text without a translation map cannot be ordered.
        value
            .parse::<i64>()
            .map_err(|_| format!("Unable to convert '{value}' to an integer for '{name}'"))
    }
}

/// Every regular file under `dir`, recursively (symlinked directories are not followed).
fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            walk(&path, out, errors);
        } else if kind.is_file()
            || (kind.is_symlink() && path.metadata().is_ok_and(|m| m.is_file()))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filehandling() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/heka/logstreamer/testdir/filehandling")
    }

    fn relative(root: &Path, files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                f.strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_fixture_tree_sorts_and_groups_as_heka_does() {
        let d = Discovery::new(DiscoverySettings {
            log_directory: filehandling(),
            file_match: r"(?P<Year>\d+)/(?P<Month>\d+)/(?P<Type>\w+)\.log(\.(?P<Seq>\d+))?".into(),
            priority: vec!["Year".into(), "Month".into(), "^Seq".into()],
            differentiator: vec!["Type".into(), "-stream".into()],
            ..Default::default()
        })
        .expect("valid");
        let (streams, errors) = d.scan(SystemTime::now());
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["access-stream", "error-stream"]);
        let root = d.root().to_path_buf();
        let access = relative(&root, &streams[0].files);
        assert_eq!(
            access.first().map(String::as_str),
            Some("2010/05/access.log.3")
        );
        assert_eq!(
            access.last().map(String::as_str),
            Some("2013/08/access.log")
        );
        let error = relative(&root, &streams[1].files);
        assert_eq!(
            error.first().map(String::as_str),
            Some("2010/07/error.log.2")
        );
        assert_eq!(error.last().map(String::as_str), Some("2013/08/error.log"));
        // Year and Month ascending, Seq descending (the bare file, Seq = -1, is newest).
        let mut expected = Vec::new();
        for (dir, top) in [
            ("2010/07", 2),
            ("2010/08", 3),
            ("2012/04", 1),
            ("2012/09", 5),
            ("2013/01", 3),
            ("2013/04", 1),
            ("2013/08", 4),
        ] {
            for seq in (1..=top).rev() {
                expected.push(format!("{dir}/error.log.{seq}"));
            }
            expected.push(format!("{dir}/error.log"));
        }
        assert_eq!(error, expected);
        assert_eq!(access.len(), 26);
        assert!(!access.iter().any(|f| f.starts_with("subdir")));
    }

    fn temp_tree(name: &str, files: &[&str]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hekad-discovery-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in files {
            let path = dir.join(f);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b"x\n").expect("write");
        }
        dir
    }

    #[test]
    fn month_day_and_translation_scores() {
        let dir = temp_tree(
            "names",
            &[
                "app-Mar-sun.log",
                "app-Jan-mon.log",
                "app-January-sunday.log",
                "app-feb-tue.log",
            ],
        );
        let d = Discovery::new(DiscoverySettings {
            log_directory: dir.clone(),
            file_match: r"app-(?P<MonthName>[A-Za-z]+)-(?P<DayName>[a-z]+)\.log".into(),
            priority: vec!["MonthName".into(), "DayName".into()],
            differentiator: vec!["app".into()],
            ..Default::default()
        })
        .expect("valid");
        let (streams, errors) = d.scan(SystemTime::now());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            relative(d.root(), &streams[0].files),
            [
                "app-Jan-mon.log",
                "app-January-sunday.log",
                "app-feb-tue.log",
                "app-Mar-sun.log"
            ]
        );

        let dir2 = temp_tree(
            "translation",
            &["x.low.log", "x.high.log", "x.log", "x.bad.log"],
        );
        let mut map = BTreeMap::new();
        map.insert(
            "Level".to_owned(),
            BTreeMap::from([("LOW".to_owned(), 1), ("high".to_owned(), 2)]),
        );
        let d = Discovery::new(DiscoverySettings {
            log_directory: dir2.clone(),
            file_match: r"x\.?(?P<Level>[a-z]*)\.log".into(),
            priority: vec!["Level".into()],
            differentiator: vec!["x".into()],
            translation: map,
            ..Default::default()
        })
        .expect("valid");
        let (streams, errors) = d.scan(SystemTime::now());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].ends_with("Value 'bad' not found in translation map 'Level'."));
        assert_eq!(
            relative(d.root(), &streams[0].files),
            ["x.log", "x.low.log", "x.high.log"]
        );

        let mut missing = BTreeMap::new();
        missing.insert(
            "Level".to_owned(),
            BTreeMap::from([("missing".to_owned(), 9)]),
        );
        let d = Discovery::new(DiscoverySettings {
            log_directory: dir2.clone(),
            file_match: r"x\.?(?P<Level>\d*)\.log".into(),
            priority: vec!["Level".into()],
            differentiator: vec!["x".into()],
            translation: missing,
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(
            d.score("Level", ""),
            Ok(9),
            "an empty capture takes `missing`"
        );
        let bad_one = BTreeMap::from([("Level".to_owned(), BTreeMap::from([("a".to_owned(), 1)]))]);
        assert!(Discovery::new(DiscoverySettings {
            log_directory: dir2.clone(),
            file_match: r"(?P<Level>a)".into(),
            translation: bad_one,
            ..Default::default()
        })
        .is_err());
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(dir2);
    }

    #[test]
    fn streams_without_priority_and_old_files_are_skipped() {
        let dir = temp_tree("skips", &["a.log", "a.log.1", "b.log", "c.log"]);
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(dir.join("c.log"))
            .and_then(|f| f.set_modified(old))
            .expect("set mtime");
        let d = Discovery::new(DiscoverySettings {
            log_directory: dir.clone(),
            file_match: r"(?P<Name>[a-z])\.log(\.\d+)?".into(),
            differentiator: vec!["Name".into()],
            oldest_duration: Some(Duration::from_secs(60)),
            ..Default::default()
        })
        .expect("valid");
        let (streams, errors) = d.scan(SystemTime::now());
        let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["b"],
            "a has two files and no priority; c is too old"
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("Found multiple logfiles without Priority to sort on"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_month_name_skips_the_file_with_hekas_error() {
        let bad = temp_tree("badmonth", &["Foo.log", "Feb.log"]);
        let d = Discovery::new(DiscoverySettings {
            log_directory: bad.clone(),
            file_match: r"(?P<MonthName>\w+)\.log".into(),
            priority: vec!["MonthName".into()],
            differentiator: vec!["m".into()],
            ..Default::default()
        })
        .expect("valid");
        let (streams, errors) = d.scan(SystemTime::now());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].ends_with("Unable to locate month name: Foo"),
            "{errors:?}"
        );
        assert_eq!(relative(d.root(), &streams[0].files), ["Feb.log"]);
        let _ = std::fs::remove_dir_all(bad);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let settings = |file_match: &str, priority: &str| DiscoverySettings {
            log_directory: PathBuf::from("/nonexistent-hekad-dir"),
            file_match: file_match.into(),
            priority: vec![priority.into()],
            ..Default::default()
        };
        assert!(Discovery::new(settings(r"(?P<Seq>\d+", "Seq")).is_err());
        assert!(Discovery::new(settings(r"(?P<Seq>\d+)", "^Other")).is_err());
        assert!(Discovery::new(settings(r"(?P<Seq>\d+)", "^Seq")).is_ok());
        let d = Discovery::new(settings(r"(?P<Seq>\w+)", "Seq")).expect("valid");
        assert_eq!(
            d.score("Seq", "abc"),
            Err("Unable to convert 'abc' to an integer for 'Seq'".to_owned())
        );
        assert_eq!(d.score("Seq", "42"), Ok(42));
        assert_eq!(d.score("Seq", ""), Ok(-1));
    }
}
