#!/usr/bin/env bash
# Wrap the PyInstaller app bundle in a compressed disk image (macOS only: needs hdiutil).
#
#   python packaging/build.py --no-deb        # makes packaging/dist/ImageBatch.app
#   bash packaging/macos/make_dmg.sh [VERSION]
#
# Output: packaging/dist/ImageBatch-<version>-macos-<arch>.dmg, a window with ImageBatch.app
# and a link to /Applications to drag it onto. VERSION defaults to pyproject.toml's.
#
# Signing (optional; without it the app is ad-hoc signed by PyInstaller and Gatekeeper asks
# the user to confirm the first start with right-click > Open):
#   MACOS_SIGN_IDENTITY="Developer ID Application: NAME (TEAMID)"   codesign the .app and the dmg
#   MACOS_NOTARY_PROFILE=<keychain profile of `xcrun notarytool store-credentials`>
#                                                                   notarize and staple the dmg
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(uname -s)" = "Darwin" ] || { echo "make_dmg.sh: hdiutil exists only on macOS" >&2; exit 2; }

APP_NAME="ImageBatch"
APP="packaging/dist/${APP_NAME}.app"
VERSION="${1:-$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')}"
ARCH="$(uname -m)"
DMG="packaging/dist/${APP_NAME}-${VERSION}-macos-${ARCH}.dmg"

[ -d "$APP" ] || { echo "make_dmg.sh: $APP not found: run python packaging/build.py first" >&2; exit 1; }

# The bundle must report the version it is released as.
PLIST_VERSION="$(/usr/libexec/PlistBuddy -c 'Print :CFBundleShortVersionString' "$APP/Contents/Info.plist")"
if [ "$PLIST_VERSION" != "$VERSION" ]; then
  echo "make_dmg.sh: $APP is version $PLIST_VERSION, not $VERSION (rebuild it)" >&2
  exit 1
fi

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  # Hardened runtime is required for notarization; Python needs no extra entitlements
  # beyond the defaults PyInstaller's bootloader works with.
  codesign --force --deep --options runtime --timestamp --sign "$MACOS_SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
ditto "$APP" "$STAGE/${APP_NAME}.app"          # ditto keeps symlinks, xattrs and signatures
ln -s /Applications "$STAGE/Applications"

rm -f "$DMG"
hdiutil create -volname "${APP_NAME} ${VERSION}" -srcfolder "$STAGE" -fs HFS+ \
  -format UDZO -imagekey zlib-level=9 -ov "$DMG"
hdiutil verify "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
  if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
  fi
fi

echo "make_dmg.sh: $DMG ($(du -h "$DMG" | cut -f1))"
