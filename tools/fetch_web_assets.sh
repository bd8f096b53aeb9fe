#!/usr/bin/env bash
# Put the JavaScript the site needs into _assets/, from npm registry packages, at build time,
# so that pages render without any third-party host at read time:
#   MathJax 3 (math), require.js and the Jupyter widgets HTML manager (static widget views).
# Run by `make book`; needs npm. The files are not committed (see .gitignore).
set -euo pipefail
cd "$(dirname "$0")/.."
MATHJAX=3.2.2
REQUIREJS=2.3.7
HTML_MANAGER=1.0.15
stamp="_assets/.web-assets-$MATHJAX-$REQUIREJS-$HTML_MANAGER"
[ -f "$stamp" ] && exit 0
command -v npm >/dev/null || { echo "npm is needed to fetch MathJax for the site (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "mathjax@$MATHJAX" "requirejs@$REQUIREJS" "@jupyter-widgets/html-manager@$HTML_MANAGER" >/dev/null)
rm -rf _assets/mathjax _assets/widgets _assets/require.js _assets/.web-assets-*
mkdir -p _assets/mathjax _assets/widgets "$work/x"
tar xzf "$work/mathjax-$MATHJAX.tgz" -C "$work/x" package/es5
cp -r "$work/x/package/es5/." _assets/mathjax/
tar xzf "$work/requirejs-$REQUIREJS.tgz" -C "$work/x" package/require.js
cp "$work/x/package/require.js" _assets/require.js
tar xzf "$work/jupyter-widgets-html-manager-$HTML_MANAGER.tgz" -C "$work/x" package/dist
cp -r "$work/x/package/dist/." _assets/widgets/
rm -f _assets/widgets/*.map
touch "$stamp"
echo "fetched MathJax $MATHJAX, require.js $REQUIREJS, @jupyter-widgets/html-manager $HTML_MANAGER into _assets/"
