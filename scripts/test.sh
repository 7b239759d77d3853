#!/usr/bin/env bash
# Install everything the tests need, then run them all. Used by README's quick start and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
# CI wrapper tests (test/ci): gitlab-ci-local needs git and rsync; the Jenkins harness runs on Debian's groovy.
command -v git >/dev/null || need+=(git)
command -v rsync >/dev/null || need+=(rsync)
command -v groovy >/dev/null || need+=(groovy)
[ -f /usr/share/java/junit4.jar ] || need+=(junit4)
[ -f /usr/share/java/hamcrest.jar ] || need+=(libhamcrest-java)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test tools: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's groovy 2.4 needs Java 17.
if [ -z "${JAVA_HOME:-}" ] && [ -d /usr/lib/jvm/java-17-openjdk-amd64 ]; then export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64; fi

npm ci --no-audit --no-fund
npm run typecheck
npm run build
status=0
# The Jenkins library: CodeNarc's Jenkinsfile rules (.groovylintrc.json), no warnings. Run only for
# the whole suite; npm-groovy-lint is fetched by npx (not a devDependency: it carries CodeNarc).
if [ $# -eq 0 ]; then
  npx --yes npm-groovy-lint@16.2.0 --noserver --path jenkins/vars --files '**/*.groovy' --output txt --loglevel warning --failon warning || status=$?
fi
npx vitest run "$@" || status=$?
# One closing line any CI reads: counts from the JUnit report vitest writes when CI is set.
if [ -f .tmp/junit.xml ]; then
  node -e 'const x=require("fs").readFileSync(".tmp/junit.xml","utf8");const m=/<testsuites[^>]*tests="(\d+)"[^>]*failures="(\d+)"[^>]*errors="(\d+)"[^>]*skipped="(\d+)"/.exec(x)||/<testsuites[^>]*tests="(\d+)"[^>]*failures="(\d+)"[^>]*errors="(\d+)"/.exec(x);if(m){const t=+m[1],f=+m[2]+ +m[3],s=+(m[4]||0);console.log(`vitest: ${t-f-s} passed, ${f} failed, ${s} skipped`)}' || true
fi
exit $status
