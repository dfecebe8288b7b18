import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { buildMessage, IsBoolean, IsIn, IsInt, Max, Min, NotEquals, ValidateBy, ValidateIf } from 'class-validator';
import { parseDateTime } from '../date-time.js';

// Request fields declared once for both readers: the OpenAPI schema and the validation pipe get the same type and
// bounds from one decorator, so what the document calls valid is exactly what the service accepts.

interface FieldOptions {
  /** Required unless false; an optional field may be left out, but `null` is never a value for it. */
  required?: boolean;
  description?: string;
  example?: unknown;
}

const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]*)$/;

export function IntegerField(
  options: FieldOptions & {
    minimum: number;
    maximum: number;
    not?: number;
    default?: number;
    inQuery?: boolean;
    /** Replaces the refusal of a value below `minimum`, to say what to do instead. */
    belowMinimum?: string;
  },
): PropertyDecorator {
  const { minimum, maximum, not, inQuery, belowMinimum, ...schema } = options;
  return applyDecorators(
    property({ ...schema, type: 'integer', minimum, maximum, ...(not === undefined ? {} : { not: { enum: [not] } }) }),
    ...(inQuery === true ? [Transform(({ value }: { value: unknown }) => fromDecimalText(value))] : []),
    IsInt(),
    Min(minimum, belowMinimum === undefined ? {} : { message: belowMinimum }),
    Max(maximum),
    ...(not === undefined ? [] : [NotEquals(not)]),
  );
}

export function TextField(
  options: FieldOptions & {
    minLength: number;
    maxLength: number;
    pattern?: string;
    /** Replaces the refusal, when the pattern says something its text would say badly (such as "not blank"). */
    message?: string;
  },
): PropertyDecorator {
  const { minLength, maxLength, pattern, message, ...schema } = options;
  const matcher = pattern === undefined ? undefined : new RegExp(pattern);
  return applyDecorators(
    property({ ...schema, type: 'string', minLength, maxLength, ...(pattern === undefined ? {} : { pattern }) }),
    ValidateBy({
      name: 'textField',
      constraints: [minLength, maxLength, pattern],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && isLengthWithin(value, minLength, maxLength) && (matcher === undefined || matcher.test(value)),
        defaultMessage: buildMessage(
          (each) =>
            message ??
            `${each}$property must be a string of $constraint1 to $constraint2 characters` +
              (pattern === undefined ? '' : ' matching $constraint3'),
        ),
      },
    }),
  );
}

/** An RFC 3339 date-time (OpenAPI `format: date-time`), checked as strictly as the schema states it; kept as text. */
export function DateTimeField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(
    property({ ...options, type: 'string', format: 'date-time' }),
    ValidateBy({
      name: 'isDateTime',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseDateTime(value) !== undefined,
        defaultMessage: buildMessage((each) => `${each}$property must be an RFC 3339 date-time, such as 2030-01-15T10:00:00Z`),
      },
    }),
  );
}

export function EnumField(options: FieldOptions & { values: readonly string[] }): PropertyDecorator {
  const { values, ...schema } = options;
  return applyDecorators(property({ ...schema, type: 'string', enum: [...values] }), IsIn([...values]));
}

export function BooleanField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(property({ ...options, type: 'boolean' }), IsBoolean());
}

/** The schema half of a field, and, for an optional one, the rule that only an absent value skips the validators. */
export function property(options: FieldOptions & Record<string, unknown>): PropertyDecorator {
  const { required = true, ...schema } = options;
  return required ? ApiProperty(schema) : applyDecorators(ApiProperty({ ...schema, required: false }), IsOmittable());
}

/** Unlike `@IsOptional()`, which also lets `null` through, only an absent value skips the other validators. */
function IsOmittable(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}

/** A query parameter arrives as text: only a plain decimal integer becomes a number, anything else fails `IsInt`. */
function fromDecimalText(value: unknown): unknown {
  return typeof value === 'string' && DECIMAL_INTEGER.test(value) ? Number(value) : value;
}

/** Counts code points, as JSON Schema's minLength and maxLength do (class-validator's Length skips variation selectors). */
function isLengthWithin(value: string, min: number, max: number): boolean {
  if (value.length < min || value.length > 2 * max) {
    return false;
  }
  const length = [...value].length;
  return length >= min && length <= max;
}
