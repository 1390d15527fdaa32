# shellcheck shell=bash
# Sourced by the set-up scripts. `apt_install PACKAGE...` installs Debian packages: the
# package lists updated first, no questions asked, through sudo unless this is root.
apt_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}
