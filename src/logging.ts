/**
 * FinCore's logger: pretty, one line per event, for a person at a terminal; JSON lines (one
 * object per line, what log shippers and CloudWatch parse) everywhere else.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';
/** FINCORE_LOG_FORMAT: `auto` decides from the terminal and NODE_ENV. */
export type LogFormatSetting = LogFormat | 'auto';

/**
 * Pretty only when asked, or when nobody asked and a person is watching: stdout is a terminal
 * and this is not production. Production and pipes (docker logs, files, CI) get JSON.
 */
export function chooseLogFormat(options: { setting: LogFormatSetting; stdoutIsTTY: boolean; nodeEnv: string | undefined }): LogFormat {
  if (options.setting !== 'auto') return options.setting;
  return options.stdoutIsTTY && options.nodeEnv !== 'production' ? 'pretty' : 'json';
}

/**
 * pino-pretty as a stream in this thread (no transport worker: a thread costs ~10 MB and delays
 * lines at exit). Request lines carry their details in the message, so the fields are hidden.
 */
export function createLogger(options: { level: string; format: LogFormat; colorize?: boolean; destination?: NodeJS.WritableStream }): Logger {
  if (options.format === 'json') {
    return options.destination ? pino({ level: options.level }, options.destination) : pino({ level: options.level });
  }
  const stream = pretty({
    colorize: options.colorize ?? true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,component,reqId,method,url,status,duration_ms',
    messageFormat: '{if component}[{component}] {end}{msg}{if reqId} ({reqId}){end}',
    singleLine: true,
    destination: options.destination ?? 1,
    sync: options.destination === undefined,
  });
  return pino({ level: options.level }, stream);
}
