/** The images of the manifest corpus, pinned to fixed digests. */
import { parseRewrite, type Digest } from '@airlock/oci';
import { dotenvKeys, mapImages, type PinnedImage } from '../src/images.js';

export const hex = (c: string) => c.repeat(64);
const DIGESTS: Record<string, Digest> = {
  'nginx:1.25.3': `sha256:${hex('a')}` as Digest,
  'ghcr.io/acme/api:2.1': `sha256:${hex('b')}` as Digest,
  busybox: `sha256:${hex('c')}` as Digest,
  'postgres:16': `sha256:${hex('d')}` as Digest,
};

/** The images of the corpus, mapped as `--rewrite docker.io=registry.local --rewrite ghcr.io=registry.local` would. */
export function corpusImages(): PinnedImage[] {
  const entries = Object.keys(DIGESTS).map((source, i) => ({ source, where: `--image ${i + 1}` }));
  const specs = mapImages(entries, { rewrites: [parseRewrite('docker.io=registry.local'), parseRewrite('ghcr.io=registry.local')] });
  const keys = dotenvKeys(specs);
  return specs.map((s, i) => {
    const digest = DIGESTS[s.input]!;
    const d = s.destination;
    return { ...s, digest, pinned: `${d.registry}/${d.repository}${d.tag ? `:${d.tag}` : ''}@${digest}`, key: keys[i]! };
  });
}

