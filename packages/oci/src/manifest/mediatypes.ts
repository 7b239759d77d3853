export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciNondistributableLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);
export const IMAGE_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);

/** What we ask registries for, in preference order. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt !== undefined && INDEX_MEDIA_TYPES.has(mt);
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt !== undefined && (INDEX_MEDIA_TYPES.has(mt) || IMAGE_MEDIA_TYPES.has(mt));
}

/** Layers that may not be redistributed (Windows base layers): referenced, never copied, as crane does. */
export function isForeignLayer(mt: string): boolean {
  return (
    mt === MediaType.DockerForeignLayer ||
    mt === MediaType.OciNondistributableLayer ||
    mt === MediaType.OciNondistributableLayerGzip ||
    mt === MediaType.OciNondistributableLayerZstd
  );
}

/** Registries cap manifests at 4 MiB (distribution's default); so do we. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
