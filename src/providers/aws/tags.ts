import type { Filter, ResourceType, Tag, TagSpecification } from '@aws-sdk/client-ec2';

/** Tag keys on everything dynwork creates in AWS; teardown finds it all by `dynwork:cluster`. */
export const TAG = {
  cluster: 'dynwork:cluster',
  role: 'dynwork:role',
  index: 'dynwork:index',
  /** On a manager's data volume: the private address its manager always gets. */
  address: 'dynwork:address',
  /** On a manager instance: hash of the config it was launched with (deploy replaces it when that changes). */
  config: 'dynwork:config',
} as const;

export type ResourceRole = 'manager' | 'worker' | 'manager-data' | 'manager-address' | 'security-group' | 'key-pair' | 'iam';

/**
 * Names of a cluster's named resources. IAM is global to the account, so its
 * names carry the region too: the same cluster name may live in two regions.
 */
export function resourceNames(cluster: string, region: string) {
  const iam = `dynwork-${cluster}-${region}`;
  return {
    securityGroup: `dynwork-${cluster}`,
    keyPair: `dynwork-${cluster}`,
    managerRole: `${iam}-manager`,
    workerRole: `${iam}-worker`,
    policyName: 'dynwork',
    iamPath: '/dynwork/',
    /** SSM SecureString parameters holding the tokens. */
    parameterPath: `/dynwork/${cluster}/`,
    clientTokenParameter: `/dynwork/${cluster}/client-token`,
    workerTokenParameter: `/dynwork/${cluster}/worker-token`,
    /** SSM String parameter holding the cluster CA's certificate (public). */
    caParameter: `/dynwork/${cluster}/ca`,
    /** SSM String parameter holding manager `index`'s certificate (public). */
    managerCertParameter: (index: number) => `/dynwork/${cluster}/manager-${index}-cert`,
    /** SSM SecureString parameter holding manager `index`'s TLS key. */
    managerKeyParameter: (index: number) => `/dynwork/${cluster}/manager-${index}-key`,
  };
}

export function clusterTags(cluster: string, role: ResourceRole, index?: number): Tag[] {
  const tags: Tag[] = [
    { Key: 'Name', Value: `dynwork-${cluster}-${role}${index === undefined ? '' : `-${index}`}` },
    { Key: TAG.cluster, Value: cluster },
    { Key: TAG.role, Value: role },
  ];
  if (index !== undefined) tags.push({ Key: TAG.index, Value: String(index) });
  return tags;
}

export function tagSpec(resourceType: ResourceType, tags: Tag[]): TagSpecification {
  return { ResourceType: resourceType, Tags: tags };
}

/** EC2 filters selecting a cluster's resources, optionally of one role. */
export function clusterFilters(cluster: string, role?: ResourceRole): Filter[] {
  const f: Filter[] = [{ Name: `tag:${TAG.cluster}`, Values: [cluster] }];
  if (role) f.push({ Name: `tag:${TAG.role}`, Values: [role] });
  return f;
}

export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}
