/*!
firewalld backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[firewalld]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Firewalld {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Firewalld {
    pub fn new(settings: Settings, config: &Config) -> Firewalld {
        let _ = config;
        Firewalld { settings }
    }
}

impl DenyList for Firewalld {
    fn name(&self) -> &'static str {
        "firewalld"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("firewalld: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("firewalld: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("firewalld: not built yet".into()))
    }
}
