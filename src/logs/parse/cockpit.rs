/*!
Cockpit's web console logins. cockpit-ws hands the login to `cockpit-session`, which asks PAM
(service `cockpit`) with the browser's address as `PAM_RHOST`; Cockpit itself logs no line
with the address, so PAM's `pam_unix(cockpit:auth): authentication failure; ... rhost=ADDR
user=NAME` is the evidence (cockpit 300+, Debian 12, Fedora 39). Behind a reverse proxy that
address is the proxy's: README asks for the proxies in `never_block`.
*/

use super::lex::pam_auth_failure;
use super::{Finding, ParseOptions};

pub fn parse<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    pam_auth_failure(m, &["cockpit"], o)
}
