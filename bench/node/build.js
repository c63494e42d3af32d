// Which build of the loco-node addon a bench script measures: a debug build is refused (exit 3,
// `UNAVAILABLE: ...`, so the row says why it is not measured) unless LOCO_BENCH_ALLOW_DEBUG is set,
// as `./scripts/bench --quick` does for its smoke run. Scripts add `build=PROFILE` to their RESULT
// lines so the table names the build it measured.
'use strict';

function checkedProfile(loco, packageDir) {
  const profile = typeof loco.buildProfile === 'function' ? loco.buildProfile() : 'unknown';
  if (profile !== 'release' && !process.env.LOCO_BENCH_ALLOW_DEBUG) {
    console.log(
      `UNAVAILABLE: the addon in ${packageDir} is a ${profile} build, which the bench does not time ` +
        '(./scripts/bench builds a release addon; LOCO_BENCH_ALLOW_DEBUG=1 measures it anyway)',
    );
    process.exit(3);
  }
  return profile;
}

module.exports = { checkedProfile };
