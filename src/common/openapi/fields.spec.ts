import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { BooleanField, DateTimeField, EnumField, IntegerField, TextField } from './fields.js';

class Body {
  @IntegerField({ minimum: 1, maximum: 10 })
  count!: number;

  @IntegerField({ required: false, minimum: -5, maximum: 5, not: 0 })
  change?: number;

  @TextField({ required: false, minLength: 2, maxLength: 3 })
  note?: string;

  @TextField({ required: false, minLength: 1, maxLength: 10, pattern: '^[a-z]+$' })
  word?: string;

  @EnumField({ required: false, values: ['red', 'green'] })
  colour?: string;

  @BooleanField({ required: false })
  flag?: boolean;
}

class Query {
  @IntegerField({ required: false, inQuery: true, minimum: 1, maximum: 100 })
  limit?: number;
}

function problems(type: new () => object, plain: Record<string, unknown>): string[] {
  return validateSync(plainToInstance(type, plain)).flatMap((error) =>
    Object.keys(error.constraints ?? {}).map((name) => `${error.property}:${name}`),
  );
}

describe(IntegerField.name, () => {
  it('accepts a whole number within its bounds, and leaves an optional one out', () => {
    expect(problems(Body, { count: 10 })).toEqual([]);
  });

  it.each([0, 11, 1.5, '5', null, true])('refuses %j in a body', (count) => {
    expect(problems(Body, { count })).not.toEqual([]);
  });

  it('refuses a null for an optional field, which the schema does not make nullable', () => {
    expect(problems(Body, { count: 1, change: null })).toContain('change:isInt');
  });

  it('refuses the excluded value', () => {
    expect(problems(Body, { count: 1, change: 0 })).toEqual(['change:notEquals']);
  });

  it.each([
    ['7', []],
    ['-0', ['limit:min']],
    ['100', []],
  ])('reads the query text %j as a number', (limit, expected) => {
    expect(problems(Query, { limit })).toEqual(expected);
  });

  it.each(['07', '+7', ' 7', '7.0', '1e1', '0x10', '', 'seven', ['7', '7']])('refuses the query text %j', (limit) => {
    expect(problems(Query, { limit })).toContain('limit:isInt');
  });
});

describe(TextField.name, () => {
  it.each(['ab', 'abc', '😀😀', 'a\u{fe0f}b'])('counts code points as JSON Schema does: accepts %j', (note) => {
    expect(problems(Body, { count: 1, note })).toEqual([]);
  });

  it.each(['a', 'abcd', '😀', 'a\u{fe0f}bc', null, 12])('refuses %j', (note) => {
    expect(problems(Body, { count: 1, note })).toEqual(['note:textField']);
  });

  it('holds a value to its pattern', () => {
    expect(problems(Body, { count: 1, word: 'abc' })).toEqual([]);
    expect(problems(Body, { count: 1, word: 'abc1' })).toEqual(['word:textField']);
  });
});

class Worded {
  @IntegerField({ required: false, minimum: 1, maximum: 10, belowMinimum: 'size must be at least 1: use shrink instead' })
  size?: number;

  @TextField({ required: false, minLength: 1, maxLength: 10, pattern: '[^ ]', message: 'name must not be blank' })
  name?: string;

  @DateTimeField({ required: false })
  at?: string;
}

function messages(plain: Record<string, unknown>): string[] {
  return validateSync(plainToInstance(Worded, plain)).flatMap((error) => Object.values(error.constraints ?? {}));
}

describe('refusals worded by the field', () => {
  it('says what to do instead of a value below the minimum, and keeps the other refusals', () => {
    expect(messages({ size: 0 })).toEqual(['size must be at least 1: use shrink instead']);
    expect(messages({ size: 11 })).toEqual(['size must not be greater than 10']);
  });

  it('replaces the refusal of a text', () => {
    expect(messages({ name: '   ' })).toEqual(['name must not be blank']);
    expect(messages({ name: ' a ' })).toEqual([]);
  });
});

describe(DateTimeField.name, () => {
  it.each([
    ['2030-01-15T10:00:00Z', []],
    ['2030-01-15T10:00:00.25+02:00', []],
    ['2030-02-30T10:00:00Z', ['at must be an RFC 3339 date-time, such as 2030-01-15T10:00:00Z']],
    ['2030-01-15', ['at must be an RFC 3339 date-time, such as 2030-01-15T10:00:00Z']],
    [null, ['at must be an RFC 3339 date-time, such as 2030-01-15T10:00:00Z']],
    [1_900_000_000_000, ['at must be an RFC 3339 date-time, such as 2030-01-15T10:00:00Z']],
  ])('holds %j to an RFC 3339 date-time', (at, expected) => {
    expect(messages({ at })).toEqual(expected);
  });
});

describe(EnumField.name, () => {
  it.each([
    ['red', []],
    ['Red', ['colour:isIn']],
    [null, ['colour:isIn']],
  ])('holds %j to its values', (colour, expected) => {
    expect(problems(Body, { count: 1, colour })).toEqual(expected);
  });
});

describe(BooleanField.name, () => {
  it.each([
    [true, []],
    ['true', ['flag:isBoolean']],
    [1, ['flag:isBoolean']],
  ])('holds %j to a boolean', (flag, expected) => {
    expect(problems(Body, { count: 1, flag })).toEqual(expected);
  });
});
