/**
 * Runs `body` with environment variables set (undefined unsets one), then restores them as they
 * were, passed or not. Tests in one file run one after another, so nothing else sees the change.
 */
export async function withEnvironment<T>(variables: Readonly<Record<string, string | undefined>>, body: () => T | Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  const set = (values: Readonly<Record<string, string | undefined>>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  set(variables);
  try {
    return await body();
  } finally {
    set(before);
  }
}
