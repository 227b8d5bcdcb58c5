//! hekad's own Lua library, built into the binary: the stock decoders, encoders and
//! modules of Heka's share_dir (`lua/` in the repository, same file names and config
//! keys), so a config naming `lua_decoders/nginx_access.lua` runs without any Heka files.
//! A file of the same path under the user's `share_dir` (scripts) or `module_directory`
//! (modules) wins over the built-in one.

include!(concat!(env!("OUT_DIR"), "/lua_library.rs"));

/// The built-in source of a share_dir-relative path such as `lua_decoders/json.lua`.
pub fn file(path: &str) -> Option<&'static str> {
    let path = path.strip_prefix("./").unwrap_or(path);
    FILES.iter().find(|(p, _)| *p == path).map(|(_, s)| *s)
}

/// The built-in module `name` (`require "date_time"`): its path and source.
pub fn module(name: &str) -> Option<(&'static str, &'static str)> {
    let path = format!("lua_modules/{}.lua", name.replace('.', "/"));
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(p, s)| (*p, *s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_built_in() {
        assert!(file("lua_decoders/nginx_access.lua").is_some());
        assert!(file("./lua_encoders/schema_influx_line.lua").is_some());
        assert_eq!(
            module("date_time").map(|m| m.0),
            Some("lua_modules/date_time.lua")
        );
        assert!(module("no_such_module").is_none());
        assert!(FILES.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    }
}
