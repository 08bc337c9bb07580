//! Name → target lookup for one listener: exact names first, then the most
//! specific `*.suffix` wildcard. A lookup walks at most the name's labels
//! (≤ 127), each a hash probe.

use std::collections::HashMap;
use std::sync::Arc;

use sixgate::name::HostName;

use super::config::{applies, Config, Listener, Pattern, Target};

/// The routes of one listener.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    exact: HashMap<String, Arc<Target>>,
    below: HashMap<String, Arc<Target>>,
}

impl RouteTable {
    /// The table for `listener` from every route that applies to it.
    pub(crate) fn for_listener(config: &Config, listener: &Listener) -> Self {
        let mut table = Self::default();
        for route in config.routes.iter().filter(|r| applies(r, listener)) {
            let target = Arc::new(route.target.clone());
            for pattern in &route.names {
                match pattern {
                    Pattern::Exact(name) => table.exact.insert(name.to_string(), target.clone()),
                    Pattern::Below(name) => table.below.insert(name.to_string(), target.clone()),
                };
            }
        }
        table
    }

    /// The target for `name`: an exact route, else the longest wildcard
    /// suffix strictly above it.
    pub(crate) fn lookup(&self, name: &HostName) -> Option<&Arc<Target>> {
        if let Some(t) = self.exact.get(name.as_str()) {
            return Some(t);
        }
        if self.below.is_empty() {
            return None;
        }
        let mut rest = name.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(t) = self.below.get(parent) {
                return Some(t);
            }
            rest = parent;
        }
        None
    }

    /// How many names the table holds.
    pub(crate) fn len(&self) -> usize {
        self.exact.len() + self.below.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::config::parse;

    fn name(s: &str) -> HostName {
        HostName::new(s.as_bytes()).unwrap()
    }

    #[test]
    fn exact_beats_wildcard_and_longer_wildcard_wins() {
        let c = parse(
            "t.toml",
            r#"
[[listener]]
name = "a"
mode = "tls"
listen = ["127.0.0.1:1"]
[[listener]]
name = "b"
mode = "http"
listen = ["127.0.0.1:2"]
[[route]]
names = ["*.example.test"]
backends = ["[::1]:1"]
[[route]]
names = ["www.example.test", "*.deep.example.test"]
backends = ["[::1]:2"]
[[route]]
names = ["only-a.test"]
backends = ["[::1]:3"]
listeners = ["a"]
"#,
        )
        .unwrap();
        let a = RouteTable::for_listener(&c, &c.listeners[0]);
        let b = RouteTable::for_listener(&c, &c.listeners[1]);
        let port = |t: Option<&Arc<Target>>| t.map(|t| t.backends[0].resolve(None, 0).port());
        assert_eq!(port(a.lookup(&name("www.example.test"))), Some(2));
        assert_eq!(port(a.lookup(&name("x.example.test"))), Some(1));
        assert_eq!(port(a.lookup(&name("x.y.example.test"))), Some(1));
        assert_eq!(port(a.lookup(&name("x.deep.example.test"))), Some(2));
        assert_eq!(port(a.lookup(&name("deep.example.test"))), Some(1));
        // A wildcard does not match its own suffix.
        assert_eq!(port(a.lookup(&name("example.test"))), None);
        assert_eq!(port(a.lookup(&name("example-test"))), None);
        assert_eq!(port(a.lookup(&name("only-a.test"))), Some(3));
        assert_eq!(port(b.lookup(&name("only-a.test"))), None);
        assert_eq!(a.len(), 4);
    }
}
