# Source this file: it puts Node 24 first on PATH.
# Where the machine's Node is older, Node 24 is installed from the npm registry (the `node`
# package ships the real binary) into a cache directory outside the repository, once.
_smo_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_smo_node_major)" != 24 ]; then
  _smo_node_prefix="${SMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-manager-operator}/node24"
  if [ ! -x "$_smo_node_prefix/node_modules/.bin/node" ]; then
    echo "[node] installing Node 24 from the npm registry into $_smo_node_prefix" >&2
    mkdir -p "$_smo_node_prefix"
    npm install --no-save --no-package-lock --prefix "$_smo_node_prefix" node@24 >&2
  fi
  export PATH="$_smo_node_prefix/node_modules/.bin:$PATH"
  unset _smo_node_prefix
fi
if [ "$(_smo_node_major)" != 24 ]; then
  echo "[node] could not provide Node 24 (found $(node --version 2>/dev/null || echo none))" >&2
  return 1 2>/dev/null || exit 1
fi
unset -f _smo_node_major
