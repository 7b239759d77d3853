/** Which CI system (if any) is rendering our logs. */
export type CiKind = 'gitlab' | 'github' | 'jenkins' | 'generic' | 'none';

export function detectCi(env: NodeJS.ProcessEnv = process.env): CiKind {
  if (env.GITLAB_CI) return 'gitlab';
  if (env.GITHUB_ACTIONS) return 'github';
  if (env.JENKINS_URL || env.BUILD_TAG?.startsWith('jenkins-')) return 'jenkins';
  if (env.CI) return 'generic';
  return 'none';
}
