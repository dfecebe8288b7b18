import { applyDecorators } from '@nestjs/common';
import { buildMessage, ValidateBy } from 'class-validator';
import { property } from '../common/openapi/fields.js';
import { EMAIL_MAX_LENGTH, EMAIL_PATTERN, isEmailAddress } from './email.js';

export function EmailField(options: { required?: boolean; description?: string } = {}): PropertyDecorator {
  return applyDecorators(
    property({ ...options, type: 'string', pattern: EMAIL_PATTERN, maxLength: EMAIL_MAX_LENGTH, example: 'viewer@example.com' }),
    ValidateBy({
      name: 'isEmailAddress',
      validator: { validate: isEmailAddress, defaultMessage: buildMessage((each) => `${each}$property must be an email`) },
    }),
  );
}

/** The `{email}` of a path: any email the API accepts, whether or not a user has it. */
export class EmailParamDto {
  @EmailField()
  email!: string;
}
