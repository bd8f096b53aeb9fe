#!/usr/bin/env bash
# Put the JavaScript the site needs into _assets/, from npm registry packages, at build time,
# so that pages render without any third-party host at read time:
#   MathJax 3 (math).
# Run by `make book`; needs npm. The files are not committed (see .gitignore).
set -euo pipefail
cd "$(dirname "$0")/.."
MATHJAX=3.2.2
stamp="_assets/.web-assets-mathjax-$MATHJAX"
[ -f "$stamp" ] && exit 0
command -v npm >/dev/null || { echo "npm is needed to fetch MathJax for the site (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "mathjax@$MATHJAX" >/dev/null)
rm -rf _assets
mkdir -p _assets/mathjax "$work/x"
tar xzf "$work/mathjax-$MATHJAX.tgz" -C "$work/x" package/es5
cp -r "$work/x/package/es5/." _assets/mathjax/
touch "$stamp"
echo "fetched MathJax $MATHJAX into _assets/"
