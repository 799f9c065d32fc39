// trigger-hub convert <files...> [-o dir]: Kubeless / Fission trigger manifests to Trigger YAML.
// Exit 1 when any manifest could not be converted (the others are still written); warnings alone exit 0.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { convertText, renderConversion } from '../../convert/convert.ts';
import { type Conversion, defaultConvertOptions } from '../../convert/types.ts';
import { errorMessage } from '../../errors.ts';

interface ConvertCommandOptions {
  outDir?: string;
  output: 'text' | 'json';
  kafkaBrokers: string;
  natsUrl: string;
  fissionRouter: string;
  kubelessPort: number;
}

export function addConvertCommand(program: Command): void {
  program
    .command('convert')
    .description(
      'convert Kubeless (KafkaTrigger, NATSTrigger, KinesisTrigger, CronJobTrigger, HTTPTrigger) and Fission (KubernetesWatchTrigger, TimeTrigger, MessageQueueTrigger, HTTPTrigger) manifests to Triggers',
    )
    .argument('<files...>', 'YAML files (many documents each, or kind: List)')
    .option(
      '-o, --out-dir <dir>',
      'write one <namespace>-<name>.yaml per Trigger here (default: YAML on stdout)',
    )
    .addOption(
      new Option('--output <format>', 'report format (json: the conversions and warnings, no YAML on stdout)')
        .choices(['text', 'json'])
        .default('text'),
    )
    .option(
      '--kafka-brokers <list>',
      'brokers for Kubeless KafkaTriggers',
      defaultConvertOptions.kafkaBrokers.join(','),
    )
    .option('--nats-url <url>', 'server for Kubeless NATSTriggers', defaultConvertOptions.natsUrl)
    .option(
      '--fission-router <url>',
      'the Fission router, which calls functions',
      defaultConvertOptions.fissionRouter,
    )
    .option(
      '--kubeless-port <n>',
      "the port of Kubeless functions' Services",
      (value) => Number(value),
      defaultConvertOptions.kubelessPort,
    )
    .action(async (files: string[], options: ConvertCommandOptions) => {
      const convertOptions = {
        kafkaBrokers: options.kafkaBrokers
          .split(',')
          .map((broker) => broker.trim())
          .filter(Boolean),
        natsUrl: options.natsUrl,
        fissionRouter: options.fissionRouter,
        kubelessPort: options.kubelessPort,
      };
      const conversions: Array<Conversion & { file?: string }> = [];
      for (const file of files) {
        try {
          conversions.push(...convertText(await readFile(file, 'utf8'), file, convertOptions));
        } catch (error) {
          conversions.push({ origin: file, from: '?', warnings: [], error: errorMessage(error) });
        }
      }
      const seen = new Map<string, string>();
      for (const conversion of conversions) {
        if (!conversion.key || !conversion.trigger) continue;
        const first = seen.get(conversion.key);
        if (first) {
          conversion.error = `Trigger ${conversion.key} was already converted from ${first}`;
          delete conversion.trigger;
        } else seen.set(conversion.key, conversion.origin);
      }
      const converted = conversions.filter((conversion) => conversion.trigger);
      if (options.outDir) {
        await mkdir(options.outDir, { recursive: true });
        for (const conversion of converted) {
          conversion.file = join(options.outDir, `${conversion.key!.replace('/', '-')}.yaml`);
          await writeFile(conversion.file, renderConversion(conversion));
        }
      }
      if (options.output === 'json') {
        console.log(JSON.stringify(conversions, null, 2));
      } else {
        if (!options.outDir) process.stdout.write(converted.map(renderConversion).join('---\n'));
        for (const conversion of conversions) {
          if (conversion.error) {
            console.error(`FAILED    ${conversion.origin} ${conversion.from}: ${conversion.error}`);
            continue;
          }
          const where = conversion.file ? ` -> ${conversion.file}` : '';
          console.error(`converted ${conversion.origin} ${conversion.from}${where}`);
          for (const warning of conversion.warnings)
            console.error(`  warning ${warning.field}: ${warning.message}`);
        }
        const warnings = conversions.reduce((total, conversion) => total + conversion.warnings.length, 0);
        console.error(
          `${converted.length} converted, ${conversions.length - converted.length} failed, ${warnings} warning(s)`,
        );
      }
      if (converted.length !== conversions.length) process.exitCode = 1;
    });
}
