/** TypeBox schemas for /api/firmware. */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const ChecksumAlgorithm = Type.Enum(['SHA256', 'SHA384', 'SHA512', 'MD5', 'CRC32'], {
  description: "ThingsBoard's checksum algorithms",
});

export const UploadQuery = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 255, description: 'firmware title (fw_title), e.g. spms-esp32' }),
    version: Type.String({ minLength: 1, maxLength: 255, description: 'firmware version (fw_version), e.g. 1.4.2' }),
    checksumAlgorithm: ChecksumAlgorithm,
    checksum: Type.String({
      minLength: 1,
      maxLength: 130,
      description: 'the checksum of the image as hex (CRC32: either byte order, optional 0x); verified on upload',
    }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

/** Never validated (an empty schema): the route reads the request's raw stream. */
export const ImageBody = Type.Unknown({
  description: 'the image bytes, as the request body (application/octet-stream)',
});

export const ImageReply = Type.Unknown({ description: 'the image bytes (application/octet-stream)' });

export const Firmware = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  version: Type.String(),
  size: Type.Integer({ description: 'bytes (fw_size)' }),
  checksum: Type.String({ description: 'lowercase hex as pushed to devices (CRC32 least significant byte first)' }),
  checksumAlgorithm: ChecksumAlgorithm,
  sha256: Type.String({ description: 'SHA-256 of the image, kept whatever the algorithm' }),
  description: Nullable(Type.String()),
  createdBy: Nullable(Type.String({ description: 'who uploaded it (user id or API key id)' })),
  createdAt: Type.String({ format: 'date-time' }),
});

export const FirmwareDetail = Type.Object({
  ...Firmware.properties,
  assigned: Type.Object({
    profiles: Type.Array(Type.Object({ id: Type.String(), name: Type.String() }), {
      description: 'profiles that have it assigned',
    }),
    devices: Type.Integer({ description: 'devices in your scope that have it assigned themselves' }),
    targetDevices: Type.Integer({
      description: 'devices in your scope whose target it is (their own assignment, else their profile’s)',
    }),
    activeRollouts: Type.Integer({ description: 'rollouts of it that are running or paused' }),
  }),
});

export const FirmwareList = Type.Object({
  items: Type.Array(Firmware),
  total: Type.Integer({ description: 'firmware matching the filter (all pages)' }),
});

export const ListQuery = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 255, description: 'only this title' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);

export const FirmwareParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'firmware id' }) });
