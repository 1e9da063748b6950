// Package kmskey is the AWS KMS adapter of credentials.KeyWrapper: one GenerateDataKey per
// sealed secret and one Decrypt per opening (the vault's cache keeps openings rare), each bound
// to the secret's kind and id by the encryption context.
package kmskey

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/aloro/wa-senders/shared/credentials"
)

// API is the part of the KMS client used.
type API interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ API = (*kms.Client)(nil)

// Key wraps data keys under one KMS key.
type Key struct {
	api   API
	keyID string
}

var _ credentials.KeyWrapper = (*Key)(nil)

// New returns the wrapper for the KMS key keyID (id, ARN or alias).
func New(api API, keyID string) *Key { return &Key{api: api, keyID: keyID} }

// NewDataKey asks KMS for an AES-256 data key.
func (k *Key) NewDataKey(ctx context.Context, ec map[string]string) ([]byte, []byte, string, error) {
	out, err := k.api.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(k.keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec,
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("kms generate data key: %w", err)
	}
	return out.Plaintext, out.CiphertextBlob, aws.ToString(out.KeyId), nil
}

// UnwrapDataKey asks KMS to decrypt a wrapped data key.
func (k *Key) UnwrapDataKey(ctx context.Context, wrapped []byte, keyID string, ec map[string]string) ([]byte, error) {
	in := &kms.DecryptInput{CiphertextBlob: wrapped, EncryptionContext: ec, KeyId: aws.String(k.keyID)}
	if keyID != "" {
		in.KeyId = aws.String(keyID)
	}
	out, err := k.api.Decrypt(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("kms decrypt data key: %w", err)
	}
	return out.Plaintext, nil
}
