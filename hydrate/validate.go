package hydrate

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	schemalisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	crds "github.com/gitfleet/gitfleet/config/crd"
)

// kindSchema is what the API server builds from one served version of a CRD: the
// structural schema (pruning, defaulting), the OpenAPI validator and the CEL validator.
type kindSchema struct {
	apiVersion string
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var (
	schemasOnce sync.Once
	schemas     map[string]*kindSchema // by kind
	schemasErr  error
)

// fleetSchemas reads the CRDs embedded from config/crd/bases once.
func fleetSchemas() (map[string]*kindSchema, error) {
	schemasOnce.Do(func() { schemas, schemasErr = loadSchemas(crds.Bases) })
	return schemas, schemasErr
}

func loadSchemas(fsys fs.FS) (map[string]*kindSchema, error) {
	files, err := fs.Glob(fsys, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := apiextensionsinternal.AddToScheme(scheme); err != nil {
		return nil, err
	}
	out := map[string]*kindSchema{}
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", name, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || !v.Storage || v.Schema == nil {
				continue
			}
			var internal apiextensionsinternal.CustomResourceValidation
			if err := scheme.Convert(v.Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", name, err)
			}
			s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", name, err)
			}
			validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("embedded CRD %s: %w", name, err)
			}
			out[crd.Spec.Names.Kind] = &kindSchema{
				apiVersion: crd.Spec.Group + "/" + v.Name,
				structural: s,
				validator:  validator,
				cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
			}
		}
	}
	return out, nil
}

// ValidateFleetObject checks one fleet object as the API server checks a create with
// strict field validation: apiVersion and kind, unknown fields (as `kubectl
// --validate=strict`), metadata.name, the CRD's OpenAPI schema (after the schema's
// defaults are applied) and its CEL rules (x-kubernetes-validations). Each returned error
// names the field path as the API server does. The object is not changed.
func ValidateFleetObject(o *unstructured.Unstructured) field.ErrorList {
	all, err := fleetSchemas()
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	kind := o.GetKind()
	ks := all[kind]
	if ks == nil || !FleetKinds[kind] {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), kind, sortedFleetKinds())}
	}
	if o.GetAPIVersion() != ks.apiVersion {
		return field.ErrorList{field.NotSupported(field.NewPath("apiVersion"), o.GetAPIVersion(), []string{ks.apiVersion})}
	}
	u := runtime.DeepCopyJSON(o.Object)
	// Status is the hub's to write: the status subresource drops it on create.
	delete(u, "status")

	var errs field.ErrorList
	_, _, metaUnknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), nil, err.Error())}
	}
	unknown := append([]string{}, metaUnknown...)
	unknown = append(unknown, structuralpruning.PruneWithOptions(u, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, ks.structural)
	if ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u, ks.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true}); ferr != nil {
		errs = append(errs, ferr)
	} else {
		unknown = append(unknown, paths...)
	}
	sort.Strings(unknown)
	for _, p := range unknown {
		errs = append(errs, &field.Error{Type: field.ErrorTypeNotSupported, Field: p, Detail: fmt.Sprintf("unknown field %q", p), BadValue: field.OmitValueType{}})
	}
	if len(errs) > 0 {
		// The API server refuses the request at decoding, before any other check.
		return errs
	}
	structuraldefaulting.Default(u, ks.structural)

	name := o.GetName()
	for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), name, msg))
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, ks.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, u, ks.structural, false)...)
	errs = append(errs, schemalisttype.ValidateListSetsAndMaps(nil, ks.structural, u)...)
	if blocking(errs) {
		errs = append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	} else {
		celErrs, _ := ks.cel.Validate(context.Background(), nil, ks.structural, u, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}

// blocking tells, as the API server's customResourceStrategy does, whether a schema error
// makes the CEL rules unsafe to run (a value of the wrong type, a missing required field,
// a value not among the allowed ones, a value too long).
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeTypeInvalid, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany:
			return true
		}
	}
	return false
}

func sortedFleetKinds() []string {
	var out []string
	for k := range FleetKinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// formatFieldErrors joins a list into one message, each error naming its field path.
func formatFieldErrors(errs field.ErrorList) string {
	var parts []string
	for _, e := range errs {
		switch {
		case e.Type == field.ErrorTypeNotSupported && strings.HasPrefix(e.Detail, "unknown field "):
			parts = append(parts, e.Detail) // as the API server words a strict decoding error
		case e.Field == "<nil>":
			parts = append(parts, e.Detail)
		default:
			parts = append(parts, e.Error())
		}
	}
	return strings.Join(parts, "; ")
}
