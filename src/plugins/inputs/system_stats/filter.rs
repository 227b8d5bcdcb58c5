//! Include/exclude lists for disks, interfaces and mount points, so a router can leave out
//! loop devices or a bridge's ports without a filter plugin downstream.

/// Names to keep: all when `include` is empty, else those it matches; never those
/// `exclude` matches. A pattern ending in `*` matches every name starting with the rest.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

fn matches(pattern: &str, name: &[u8]) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix.as_bytes()),
        None => name == pattern.as_bytes(),
    }
}

impl NameFilter {
    /// A filter from the config's two lists.
    pub fn new(include: &[String], exclude: &[String]) -> NameFilter {
        NameFilter {
            include: include.to_vec(),
            exclude: exclude.to_vec(),
        }
    }

    /// Whether `name` is collected.
    pub fn allows(&self, name: &[u8]) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| matches(p, name)))
            && !self.exclude.iter().any(|p| matches(p, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_exclude_and_prefixes() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let f = NameFilter::new(&[], &v(&["loop*", "ram0"]));
        assert!(f.allows(b"sda"));
        assert!(!f.allows(b"loop3"));
        assert!(!f.allows(b"ram0"));
        assert!(f.allows(b"ram1"));
        let f = NameFilter::new(&v(&["eth*", "lo"]), &v(&["eth9"]));
        assert!(f.allows(b"eth0") && f.allows(b"lo"));
        assert!(!f.allows(b"wlan0") && !f.allows(b"eth9") && !f.allows(b"lo0"));
    }
}
