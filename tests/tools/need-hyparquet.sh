# need-hyparquet.sh -- sourced by integration tests that read Parquet with
# hyparquet (an independent reader) or write it with hyparquet-writer.  Installs the versions pinned in
# tests/package-lock.json into tests/node_modules (git-ignored) from the npm
# registry when they are missing.  Without node/npm, or when the install
# fails, the test fails loudly: it must never pass without the check.
need_hyparquet() {
  local dir="$ROOT/tests"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    not_ok "node and npm are needed for the independent Parquet reader (scripts/install-deps test)"
    exit 1
  fi
  local have
  have=$(node -p "try { require('$dir/node_modules/hyparquet/package.json').version + ' ' + require('$dir/node_modules/hyparquet-compressors/package.json').version + ' ' + require('$dir/node_modules/hyparquet-writer/package.json').version } catch (e) { '' }" 2>/dev/null)
  if [ "$have" != "1.31.5 1.1.2 0.17.0" ]; then
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1; then
      not_ok "npm ci of hyparquet into tests/node_modules failed: $(grep -v 'Unknown user config' "$T/npm.log" | tail -3 | tr '\n' ' ')"
      exit 1
    fi
  fi
  ok "independent reader hyparquet 1.31.5 + hyparquet-compressors 1.1.2 (and writer hyparquet-writer 0.17.0) installed"
}
