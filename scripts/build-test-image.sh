#!/usr/bin/env bash
# Builds the local sandbox image used by the tests, without any registry: a root filesystem made of the
# host's own node binary, the shared libraries `ldd` lists for it, the host's npm (npm and npx, for the
# templates' installs and test commands), and busybox-static for a shell and the usual tools (sh, tar,
# kill, sleep, env, ...). The product's default image stays node:22-bookworm-slim.
#
# usage: scripts/build-test-image.sh [IMAGE]   (default: samokoder-test-node:latest)
set -euo pipefail

image="${1:-${SAMOKODER_TEST_IMAGE:-samokoder-test-node:latest}}"
node_bin="$(command -v node || true)"
busybox_bin="$(command -v busybox || true)"
[ -n "$node_bin" ] || { echo "build-test-image: node is not installed on the host (apt-get install nodejs)" >&2; exit 1; }
[ -n "$busybox_bin" ] || { echo "build-test-image: busybox is not installed (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "build-test-image: $busybox_bin is dynamically linked; install busybox-static" >&2; exit 1
fi
command -v docker >/dev/null || { echo "build-test-image: the docker client is missing (apt-get install docker.io)" >&2; exit 1; }
npm_bin="$(command -v npm || true)"
[ -n "$npm_bin" ] || { echo "build-test-image: npm is not installed on the host (apt-get install npm)" >&2; exit 1; }
# npm's package: the directory above bin/npm-cli.js.
npm_dir="$(dirname "$(dirname "$(readlink -f "$npm_bin")")")"
[ -f "$npm_dir/bin/npm-cli.js" ] && [ -f "$npm_dir/bin/npx-cli.js" ] || {
  echo "build-test-image: $npm_dir is not an npm package (no bin/npm-cli.js)" >&2; exit 1; }

node_real="$(readlink -f "$node_bin")"
# The image records what it was built from; the same inputs again leave it as it is.
inputs="$(cat "$0" "$node_real" "$busybox_bin" "$npm_dir/package.json" | sha256sum | cut -c1-32)"
if [ "$(docker image inspect -f '{{index .Config.Labels "dev.samokoder.test-image.inputs"}}' "$image" 2>/dev/null)" = "$inputs" ]; then
  echo "$image is up to date (built from $node_real and $busybox_bin)"
  exit 0
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,usr/bin,usr/local/bin,etc,tmp,workspace,lib,lib64,proc,sys,dev}
chmod 1777 "$rootfs/tmp"

cp "$node_real" "$rootfs/usr/local/bin/node"
# Every library node needs, at the path the dynamic loader will look for it.
ldd "$node_real" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}' | sort -u | while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done

# And the rest of glibc's usual libraries, which native modules of npm packages load (rollup's needs
# librt.so.1).
for name in librt.so.1 libpthread.so.0 libdl.so.2 libm.so.6 libgcc_s.so.1 libstdc++.so.6 libresolv.so.2 libutil.so.1; do
  lib="$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64|x86_64|aarch64/ {print $NF; exit}')"
  [ -n "$lib" ] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  [ -e "$rootfs$lib" ] || cp -L "$lib" "$rootfs$lib"
done

cp "$busybox_bin" "$rootfs/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
# npm's scripts start with `#!/usr/bin/env node`.
ln -s /bin/busybox "$rootfs/usr/bin/env"

mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -R "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
# Names resolve from /etc/hosts first (vite and vitest look up `localhost`; the warm container has no DNS).
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
mkdir -p "$rootfs/home/node"
chown 1000:1000 "$rootfs/home/node" "$rootfs/workspace"

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'WORKDIR /workspace' \
  --change 'CMD ["sh"]' \
  --change "LABEL dev.samokoder.test-image.inputs=$inputs" \
  - "$image" >/dev/null
echo "built $image ($(docker image inspect -f '{{.Size}}' "$image") bytes) from $node_real, npm $(node "$npm_dir/bin/npm-cli.js" --version) and $busybox_bin"
