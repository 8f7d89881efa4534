import { describeSettings } from './config.js';

/** docs/configuration.md, generated from the schema so the two never disagree. */
export function configDocument(): string {
  return `# Configuration

Generated from \`src/config.ts\` by \`npm run docs:config\`; \`palabre config --docs\` prints the same table.

Sources, later ones winning: the defaults below, a YAML file (\`--config FILE\` or \`PALABRE_CONFIG\`) with the same nesting as the setting paths, then environment variables. Lists in env vars are comma-separated; booleans accept true/false/1/0/yes/no. \`palabre config\` prints the effective configuration with secrets masked.

Example file:

\`\`\`yaml
server:
  host: 0.0.0.0
  port: 8080
  authToken: change-me
engines:
  stt:
    engine: pocketsphinx
  tts:
    engine: espeak
    language: fr
preprocess:
  denoise: true
\`\`\`

${describeSettings()}
`;
}
